"""One check of the dashboard: which it is and what it found."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class CheckId(StrEnum):
    """The eight checks, in the dashboard's order."""

    QUEUE = "queue"
    WORKER = "worker"
    MONITOR = "monitor"
    WATCHDOG = "watchdog"
    BOOT = "boot"
    BACKUP = "backup"
    VENV = "venv"
    OUTPUTS = "outputs"

    @property
    def service(self) -> str | None:
        """The core service behind the check, if it is one."""
        return self.value if self in _SERVICE_CHECKS else None


_SERVICE_CHECKS = frozenset({CheckId.QUEUE, CheckId.WORKER, CheckId.MONITOR, CheckId.WATCHDOG})


@dataclass(frozen=True)
class CheckResult:
    """`line` is the dashboard's text after the mark: the seed's words when it passes, the reason when not
    (`RPA Worker - no heartbeat for 94 s`). `facts` carries the same facts for `--json`."""

    id: CheckId
    ok: bool
    line: str
    detail: str = ""
    facts: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.id.value, "ok": self.ok, "line": self.line, "detail": self.detail, **self.facts}
