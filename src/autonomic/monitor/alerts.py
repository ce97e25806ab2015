"""`AlertBook`: turns the conditions each sample shows into alerts that do not spam.

Each condition key is a small state machine (`AlertState`): it is PENDING while the condition has held
for less than `for`, FIRING once it has (one "firing" record), and back to CLEAR with one "resolved"
record when a sample no longer shows it. A key that resolved stays quiet for `cooldown`: if the problem
comes back meanwhile, it fires again only once the cool-down is over and the problem is still there.
Records go to `outputs/alerts.jsonl` (the event-log format); the book's state survives a restart.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from autonomic import atomic
from autonomic.clock import Clock
from autonomic.eventlog import EventLog
from autonomic.monitor.rules import Condition
from autonomic.monitor.settings import AlertSettings

Notify = Callable[[str, str], None]


class AlertState(StrEnum):
    CLEAR = "clear"
    PENDING = "pending"
    FIRING = "firing"


@dataclass
class Entry:
    state: AlertState = AlertState.CLEAR
    since: float = 0.0  # when the condition was first seen (PENDING) or fired (FIRING)
    resolved_at: float | None = None
    severity: str = ""
    message: str = ""


class AlertBook:
    """Feed it each sample's conditions with `update`; it logs firings and resolutions."""

    def __init__(
        self,
        settings: AlertSettings,
        log: EventLog,
        clock: Clock,
        state_file: Path | None = None,
        notify: Notify | None = None,
    ) -> None:
        self.settings = settings
        self.log = log
        self.clock = clock
        self.state_file = state_file
        self.notify = notify
        self.entries: dict[str, Entry] = self._load()
        self._dirty = False

    def update(self, conditions: list[Condition]) -> list[dict[str, Any]]:
        """Apply one sample's conditions; return the records written (firings and resolutions)."""
        now = self.clock.time()
        shown = {c.key: c for c in conditions}
        written: list[dict[str, Any]] = []
        for key, condition in shown.items():
            record = self._seen(key, condition, now)
            if record:
                written.append(record)
        for key, entry in self.entries.items():
            if key not in shown and entry.state is not AlertState.CLEAR:
                record = self._gone(key, entry, now)
                if record:
                    written.append(record)
        self.entries = {
            k: e for k, e in self.entries.items() if e.state is not AlertState.CLEAR or self._cooling(e, now)
        }
        if self._dirty:
            self._save()
            self._dirty = False
        return written

    def firing(self) -> dict[str, Entry]:
        return {k: e for k, e in self.entries.items() if e.state is AlertState.FIRING}

    def _seen(self, key: str, condition: Condition, now: float) -> dict[str, Any] | None:
        entry = self.entries.setdefault(key, Entry())
        entry.severity, entry.message = condition.severity.value, condition.message
        if entry.state is AlertState.FIRING:
            return None
        if entry.state is AlertState.CLEAR:
            self._move(entry, AlertState.PENDING, now)
        held = now - entry.since >= self.settings.hold or condition.immediate
        if held and not self._cooling(entry, now):
            self._move(entry, AlertState.FIRING, now)
            if self.notify is not None:
                self.notify(f"autonomic: {condition.severity.value}", condition.message)
            return self.log.write("alert", key, "firing", condition.message, severity=entry.severity)
        return None

    def _gone(self, key: str, entry: Entry, now: float) -> dict[str, Any] | None:
        was_firing = entry.state is AlertState.FIRING
        self._move(entry, AlertState.CLEAR, now)
        if not was_firing:
            return None
        entry.resolved_at = now
        return self.log.write("alert", key, "resolved", entry.message, severity=entry.severity)

    def _cooling(self, entry: Entry, now: float) -> bool:
        return entry.resolved_at is not None and now - entry.resolved_at < self.settings.cooldown

    def _move(self, entry: Entry, new: AlertState, now: float) -> None:
        """The one place an alert changes state."""
        entry.state, entry.since = new, now
        self._dirty = True

    def _load(self) -> dict[str, Entry]:
        if self.state_file is None:
            return {}
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
            raw = json.loads(self.state_file.read_text(encoding="utf-8"))
            return {k: Entry(**{**v, "state": AlertState(v["state"])}) for k, v in raw.items()}
        return {}

    def _save(self) -> None:
        if self.state_file is not None:
            atomic.write_json(self.state_file, {k: asdict(e) for k, e in self.entries.items()})


def recent(path: Path, since: float, limit: int = 200) -> list[dict[str, Any]]:
    """The alert records of `path` (and its `.1`) written since `since`, oldest first, at most `limit`."""
    from datetime import datetime

    found: list[dict[str, Any]] = []
    for source in (path.with_name(path.name + ".1"), path):
        with contextlib.suppress(OSError), open(source, encoding="utf-8") as handle:
            for line in handle:
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    record = json.loads(line)
                    if datetime.fromisoformat(record["timestamp"]).timestamp() >= since:
                        found.append(record)
    return found[-limit:]
