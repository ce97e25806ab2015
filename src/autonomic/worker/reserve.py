"""The worker's reserve: tasks claimed beyond its free slots, waiting for one, most urgent first.

Tasks claimed in one request wait here until a slot takes them. The order is the queue's own
(priority, then the order the server handed them out), so an urgent task claimed while normal ones
wait is the next to run. `close` ends every `get` and hands back what was still waiting.

How much to hold (`Pace.reserve`): `prefetch` tasks per slot, as Celery's prefetch multiplier; and
while the tasks take next to nothing, as many as the slots get through in `HORIZON` (at most
`MAX_RESERVE`), so that a claim request carries many tasks and the worker is not bound by one
request per handful of no-ops. Held that briefly, a larger reserve costs no one anything: another
worker never waits on it for longer than `HORIZON`. `prefetch = 0` holds nothing in reserve.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from typing import Any

from autonomic.queue.task import Priority

_RANK = {priority: priority.rank for priority in Priority}
HORIZON = 0.05  # seconds of work a reserve of short tasks may hold
MAX_RESERVE = 500  # tasks: half the server's default batch cap
_SMOOTHING = 0.2


class Pace:
    """How long this worker's tasks take (a moving average), and the reserve that suits it."""

    def __init__(self) -> None:
        self.seconds: float | None = None

    def ran(self, seconds: float) -> None:
        if self.seconds is None:
            self.seconds = seconds
        else:
            self.seconds += _SMOOTHING * (seconds - self.seconds)

    def reserve(self, concurrency: int, prefetch: int) -> int:
        """Tasks to hold beyond the slots: `prefetch` per slot, more while tasks are near-instant."""
        if prefetch <= 0:
            return 0
        base = concurrency * prefetch
        if self.seconds is None:
            return base
        quick = int(concurrency * HORIZON / max(self.seconds, 1e-5))
        return max(base, min(quick, MAX_RESERVE))


class Reserve:
    """A priority queue of claimed tasks for the worker's slots; `get` waits while it is empty."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, Any]] = []
        self._order = itertools.count()
        self._ready = asyncio.Event()
        self._closed = False

    def __len__(self) -> int:
        return len(self._heap)

    def put(self, task: Any) -> None:
        heapq.heappush(self._heap, (_RANK.get(task.priority, 1), next(self._order), task))
        self._ready.set()

    def take(self) -> Any | None:
        """The next task without waiting, or None when none waits (or the reserve is closed)."""
        if self._closed or not self._heap:
            return None
        return heapq.heappop(self._heap)[2]

    async def get(self) -> Any | None:
        """The next task, waiting for one; None once the reserve is closed."""
        while not self._closed:
            if self._heap:
                return heapq.heappop(self._heap)[2]
            self._ready.clear()
            await self._ready.wait()
        return None

    def close(self) -> list[Any]:
        """Stop handing out tasks; returns those still waiting (to be released)."""
        self._closed = True
        self._ready.set()
        left = [entry[2] for entry in sorted(self._heap)]
        self._heap.clear()
        return left
