"""The upgrade's record: every step to `outputs/auto_upgrade_log.jsonl` in the original's format
(`timestamp`, `action`, `target`, `status`, `details`, plus exit codes and durations), and the same line
to whoever watches the progress (the CLI prints it)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from autonomic.eventlog import EventLog

Progress = Callable[[str, str], None]
"""Called with (level, text); level is one of "ok", "error", "warn", "info"."""

_OK = frozenset(
    {"success", "ok", "valid", "found", "verified", "reloaded", "first_run", "applied", "operational"}
)
_ERROR = frozenset({"failed", "refused", "rolled_back", "critical"})
_WARN = frozenset({"attempting", "skipped", "unverified", "degraded"})


class Journal:
    """One upgrade run's events; `run` ties the lines of one run together."""

    def __init__(self, log: EventLog, progress: Progress | None = None) -> None:
        self.log = log
        self.progress = progress
        self.run = os.urandom(4).hex()

    def event(self, action: str, target: str, status: str, details: str = "", **fields: Any) -> None:
        self.log.write(action, target, status, details, run=self.run, **fields)
        if self.progress is not None:
            self.progress(
                _level(status), f"{action} {target}: {status}" + (f" - {details}" if details else "")
            )

    def system_health(self, report: dict[str, Any] | None, phase: str) -> None:
        """Log the full health report's score (e.g. 8/8) after an upgrade or a rollback."""
        if report is None:
            return
        failing = [c.get("check", "?") for c in report.get("checks", []) if not c.get("ok", True)]
        self.event(
            "health",
            "system",
            str(report.get("tier", "unknown")),
            f"{report.get('passed')}/{report.get('total')} checks pass"
            + (f"; failing: {', '.join(map(str, failing))}" if failing else ""),
            phase=phase,
            passed=report.get("passed"),
            total=report.get("total"),
        )

    def say(self, level: str, text: str) -> None:
        """Progress only (nothing logged): plan lines, hints."""
        if self.progress is not None:
            self.progress(level, text)


def _level(status: str) -> str:
    if status in _OK:
        return "ok"
    if status in _ERROR:
        return "error"
    return "warn" if status in _WARN else "info"
