"""The queue's own errors, all under `autonomic.errors.QueueError` so the CLI reports them in one line.

Two branches tell a caller what to do next: a `QueueServerError` (the server failed with a 5xx, or
could not be reached) may succeed if sent again later; a `QueueRefused` (a 4xx) will not, as sent.
"""

from __future__ import annotations

from autonomic.errors import QueueError, TaskNotFound

__all__ = [
    "QueueAuthError",
    "QueueError",
    "QueueRefused",
    "QueueServerError",
    "QueueUnavailable",
    "ResultTimeout",
    "TaskConflict",
    "TaskNotFound",
]


class QueueServerError(QueueError):
    """The queue server failed to handle the request (a 5xx answer): the same request may work later."""


class QueueUnavailable(QueueServerError):
    """The queue server could not be reached (not running, wrong port) or did not answer in time."""

    exit_code = 3


class QueueRefused(QueueError):
    """The queue server refused the request itself (a 4xx answer): sending it again as is will not help."""


class QueueAuthError(QueueRefused):
    """The server refused the request's credentials or origin (401/403)."""


class TaskConflict(QueueRefused):
    """The task is not in a state that allows the request (e.g. a second result for a finished task)."""


class ResultTimeout(QueueError):
    """`run` waited as long as it was allowed and the task has no result yet (it stays queued)."""

    exit_code = 4
