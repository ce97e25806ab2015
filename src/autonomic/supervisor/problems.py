"""Problems a service's supervision works around (an unwritable log or record, an error in the loop):
kept for `status` while they last, said once (an event and a line on the orchestrator's stderr) when
they appear, and an event again when they are gone."""

from __future__ import annotations

import contextlib
import sys

from autonomic.eventlog import EventLog


class Problems:
    def __init__(self, target: str, events: EventLog) -> None:
        self.target = target
        self.events = events
        self._current: dict[str, str] = {}

    def note(self, key: str, problem: str | None) -> None:
        """`problem` is the state of `key` now (None: it works)."""
        if problem is None:
            if self._current.pop(key, None) is not None:
                self.events.write(key, self.target, "recovered", f"{key} works again")
            return
        if self._current.get(key) != problem:
            self.events.write(key, self.target, "failed", problem)
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.write(f"{self.target}: {problem}\n")
                sys.stderr.flush()
        self._current[key] = problem

    def fault(self, exc: BaseException) -> None:
        """An unexpected error in the supervision loop (it goes on after a pause)."""
        self.note("supervisor", f"supervision error: {type(exc).__name__}: {exc}")

    def listed(self) -> list[str]:
        return list(self._current.values())
