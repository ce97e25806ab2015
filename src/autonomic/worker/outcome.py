"""What running a task comes to: result data, the failure a handler raises, the outcome reported.

This module imports nothing from the rest of the worker, so the handlers, the file guard, the
browser pool and the task context can all raise `TaskFailed` without importing one another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Data = dict[str, Any]
"""A task's result data: a JSON-able object."""


class TaskFailed(Exception):
    """Fail the task with this message. `data` is merged into the failure result's data."""

    def __init__(self, message: str, data: Data | None = None) -> None:
        super().__init__(message)
        self.data = dict(data or {})


@dataclass(frozen=True, slots=True)
class Outcome:
    """What is reported for a task: `{success, data, error}`; `data` always carries `execution_time`."""

    success: bool
    data: Data
    error: str | None = None
