"""How the service's errors are answered: one table, used by the routes and by the fast lane alike."""

from __future__ import annotations

import logging

from autonomic.errors import QueueError, StateError, TaskConflict, TaskNotFound
from autonomic.queue.store.records import BadCursor

log = logging.getLogger("autonomic.queue")

# Looked up along the exception's MRO, so the most specific class wins.
ERROR_STATUS: dict[type[Exception], int] = {
    TaskNotFound: 404,
    TaskConflict: 409,
    BadCursor: 422,
    StateError: 503,
    QueueError: 400,
}


def error_status(exc: Exception) -> tuple[int, str] | None:
    """The status and `detail` answering `exc`, or None if it is not one of ours (a bug: a 500)."""
    for kind in type(exc).__mro__:
        code = ERROR_STATUS.get(kind)
        if code == 503:
            log.error("store failure: %s", exc)
            return code, f"queue store unavailable: {exc}"
        if code is not None:
            return code, str(exc)
    return None
