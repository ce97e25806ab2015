"""What the upgrade remembers between runs (`.autonomic/upgrade.json`): the last applied commit, the
commits rolled back as bad, and an upgrade applied at boot whose health is still to be verified."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from autonomic import atomic
from autonomic.errors import StateError


@dataclass
class Pending:
    """An upgrade applied while the services were not running (at the orchestrator's start): the next
    check with the orchestrator up verifies their health and rolls back to `previous` if it fails."""

    commit: str
    previous: str
    services: list[str]
    python_changed: bool = False
    npm_folders: list[str] = field(default_factory=list)
    config_changed: bool = False
    at: float = 0.0


@dataclass
class UpgradeState:
    applied: str | None = None
    applied_at: float | None = None
    bad: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: Pending | None = None
    seen: str | None = None  # HEAD at the last check (a skipped bad commit is logged once, not every check)

    @classmethod
    def load(cls, path: Path) -> UpgradeState:
        """The saved state; an empty one when there is none yet. A damaged file is an error, not a reset:
        silently forgetting the applied commit would skip a whole upgrade."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            raise StateError(f"{path}: unreadable ({exc}); remove it to start over from HEAD") from None
        try:
            pending = raw.get("pending")
            return cls(
                applied=raw.get("applied"),
                applied_at=raw.get("applied_at"),
                bad=dict(raw.get("bad") or {}),
                pending=Pending(**pending) if pending else None,
                seen=raw.get("seen"),
            )
        except (AttributeError, TypeError) as exc:
            raise StateError(f"{path}: not an upgrade state ({exc}); remove it to start over") from None

    def save(self, path: Path) -> None:
        atomic.write_json(path, asdict(self))

    def mark_bad(self, commit: str, reason: str, previous: str | None, at: float) -> None:
        self.bad[commit] = {"reason": reason, "previous": previous, "at": at}
