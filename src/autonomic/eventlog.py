"""The JSON-lines activity logs other tools read (outputs/*_log.jsonl): one object a line with at least
`timestamp` (ISO 8601 with offset), `action`, `target`, `status`, `details`."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from autonomic.clock import iso_now

PRIVATE = 0o600


class EventLog:
    """Appends events to one JSONL file (owner-only), rotating it to `.1` past `max_bytes`.

    Writing never raises: a log that cannot be written (read-only folder, full disk) must never stop
    what is being logged. The first failure is said once on `fallback` (stderr: the daemon's own log)
    and kept in `problem`; meanwhile each event goes to `fallback` instead, and the file is used again
    as soon as a write succeeds."""

    def __init__(self, path: Path, max_bytes: int = 20 * 1024 * 1024, fallback: TextIO | None = None) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.problem: str | None = None
        self._fallback = fallback
        self._lock = threading.Lock()

    def write(
        self, action: str, target: str, status: str, details: str = "", **fields: Any
    ) -> dict[str, Any]:
        event: dict[str, Any] = {
            "timestamp": iso_now(),
            "action": action,
            "target": target,
            "status": status,
            "details": details,
            **fields,
        }
        line = json.dumps(event, ensure_ascii=False, default=str) + "\n"
        with self._lock:
            try:
                self._append(line)
            except OSError as exc:
                self._failed(exc, line)
            else:
                if self.problem is not None:
                    self.problem = None
                    self._say(f"{self.path}: writable again\n")
        return event

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._rotate_if_full()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(line)

    def _failed(self, exc: OSError, line: str) -> None:
        reason = exc.strerror or str(exc)
        if self.problem is None:
            self.problem = f"event log {self.path}: {reason}"
            self._say(f"{self.problem}; events go to stderr until it is writable\n")
        self._say(line)

    def _say(self, text: str) -> None:
        stream = self._fallback or sys.stderr
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):
            pass  # stderr is gone too: there is nowhere left to say it

    def _rotate_if_full(self) -> None:
        try:
            if self.path.stat().st_size < self.max_bytes:
                return
        except FileNotFoundError:
            return
        os.replace(self.path, self.path.with_name(self.path.name + ".1"))
