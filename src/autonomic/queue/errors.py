"""The queue's own errors, all under `autonomic.errors.QueueError` so the CLI reports them in one line."""

from __future__ import annotations

from autonomic.errors import QueueError, TaskNotFound

__all__ = [
    "QueueAuthError",
    "QueueError",
    "QueueUnavailable",
    "ResultTimeout",
    "TaskConflict",
    "TaskNotFound",
]


class QueueUnavailable(QueueError):
    """The queue server could not be reached (not running, wrong port) or did not answer in time."""

    exit_code = 3


class QueueAuthError(QueueError):
    """The server refused the request's credentials or origin (401/403)."""


class TaskConflict(QueueError):
    """The task is not in a state that allows the request (e.g. a second result for a finished task)."""


class ResultTimeout(QueueError):
    """`run` waited as long as it was allowed and the task has no result yet (it stays queued)."""

    exit_code = 4
