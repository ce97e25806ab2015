"""`EventTail`: reads the orchestrator's event log (`outputs/master_orchestrator_log.jsonl`)
incrementally, across its rotation to `.1`, keeping what availability and the reports need."""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

KEPT_ACTIONS = frozenset({"state", "restart", "start", "stop"})
# a cheap look before the JSON parse: most lines are probe checks the monitor does not keep
_MARKERS = re.compile(rb'"action": ?"(?:state|restart|start|stop)"')


@dataclass(frozen=True)
class Event:
    at: float
    action: str
    target: str
    status: str
    details: str


class EventTail:
    """Hands out the events appended since the previous `read`; the first read includes `.1`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._inode: int | None = None
        self._offset = 0
        self._started = False

    def read(self, since: float = 0.0) -> list[Event]:
        events: list[Event] = []
        if not self._started:
            self._started = True
            _read_from(self.path.with_name(self.path.name + ".1"), 0, since, events)
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return events
        if stat.st_ino != self._inode or stat.st_size < self._offset:
            self._inode, self._offset = stat.st_ino, 0
        self._offset = _read_from(self.path, self._offset, since, events)
        return events


def _read_from(path: Path, offset: int, since: float, into: list[Event]) -> int:
    """Parse the complete lines after `offset` into `into`, one at a time (the log may be big); return
    the offset after the last complete line (a half-written line waits for the next read)."""
    with contextlib.suppress(FileNotFoundError), open(path, "rb") as handle:
        handle.seek(offset)
        for line in handle:
            if not line.endswith(b"\n"):
                break
            offset += len(line)
            if _MARKERS.search(line):
                event = parse_event(line)
                if event is not None and event.at >= since:
                    into.append(event)
    return offset


def parse_event(line: bytes | str) -> Event | None:
    """One kept event from a log line, or None (another action, or not a valid record)."""
    try:
        raw: Any = json.loads(line)
        if not isinstance(raw, dict) or raw.get("action") not in KEPT_ACTIONS:
            return None
        at = datetime.fromisoformat(str(raw["timestamp"])).timestamp()
    except (ValueError, KeyError, TypeError):
        return None
    return Event(
        at,
        str(raw["action"]),
        str(raw.get("target", "")),
        str(raw.get("status", "")),
        str(raw.get("details", "")),
    )
