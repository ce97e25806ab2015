"""The worker's view of its queue server: up, unreachable or refusing; one log line per change.

Every call to the server reports its success or failure here. While the server is away or failing
(a 5xx answer) the worker retries with a growing delay (capped), and the log shows one line when it
goes away and one when it comes back, never a line per attempt.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from autonomic.errors import QueueAuthError, QueueServerError, QueueUnavailable

log = logging.getLogger("autonomic.worker")
DELAYS = (0.1, 0.25, 0.5, 1.0, 2.0)


class LinkState(StrEnum):
    UNKNOWN = "unknown"
    UP = "up"
    UNREACHABLE = "unreachable"
    REFUSED = "refused"
    FAILING = "failing"


def unreachable(exc: BaseException) -> bool:
    """True for the errors that mean "try again later": no connection, a timeout, a server restarting,
    or a server error (5xx), which says nothing against the request itself."""
    return isinstance(exc, QueueServerError | OSError)


def refused(exc: BaseException) -> bool:
    return isinstance(exc, QueueAuthError)


class Link:
    """Tracks the connection state and hands out the next retry delay."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.state = LinkState.UNKNOWN
        self._failures = 0

    def up(self) -> None:
        """A request succeeded."""
        self._failures = 0
        self._change(LinkState.UP, f"connected to the queue server at {self.url}")

    def down(self, exc: BaseException) -> float:
        """A request failed with `exc`; returns how long to wait before the next try."""
        if refused(exc):
            self._change(LinkState.REFUSED, f"the queue server at {self.url} refused us ({exc}); retrying")
        elif isinstance(exc, QueueServerError) and not isinstance(exc, QueueUnavailable):
            self._change(LinkState.FAILING, f"the queue server at {self.url} fails ({_short(exc)}); retrying")
        elif unreachable(exc):
            message = f"the queue server at {self.url} is unreachable ({_short(exc)}); retrying with backoff"
            self._change(LinkState.UNREACHABLE, message)
        else:
            self._change(LinkState.FAILING, f"queue requests to {self.url} fail ({_short(exc)}); retrying")
        delay = DELAYS[min(self._failures, len(DELAYS) - 1)]
        self._failures += 1
        return delay

    def _change(self, state: LinkState, message: str) -> None:
        if state is self.state:
            return
        self.state = state
        (log.info if state is LinkState.UP else log.warning)(message)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
