"""`Timers`: the queue's own clockwork, woken for the next thing that is due and otherwise asleep.

What is due: the nearest lease expiry (its task goes back to the queue, or dead), the next eviction
(the oldest finished or dead task passing its age bound, or the count bound some time after new
results). There is no fixed tick: an idle server sleeps until one of these, or at most `MAX_SLEEP`.
A claim that grants a lease ending before the planned wake-up pokes the timer, so the plan is always
the nearest due time. Passes are at least `[queue] reap_interval` apart, so a burst of expiries is
reclaimed together.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from autonomic.clock import Clock
from autonomic.queue.server.waiters import Signal
from autonomic.queue.settings import QueueSettings
from autonomic.queue.store.base import Store

T = TypeVar("T")

log = logging.getLogger("autonomic.queue")
MAX_SLEEP = 3600.0  # the longest an idle server sleeps without a reason
EVICT_EVERY = 60.0  # after new results, the count bound is enforced within this many seconds


class Host(Protocol):
    """What the timers need of the queue service (`QueueService` is one)."""

    store: Store
    settings: QueueSettings
    clock: Clock
    stopping: bool

    async def call(self, fn: Callable[..., T], *args: Any) -> T: ...

    async def reap_once(self) -> int: ...


class Timers:
    def __init__(self, service: Host) -> None:
        self.service = service
        self.wake = Signal()
        self.due = math.inf  # epoch seconds (the service's clock) of the planned wake-up
        self.passes = 0  # how many times the timer has run a pass
        self._results_due: float | None = None  # when new results must have had their count bound applied

    def lease_granted(self, expires: float) -> None:
        """A lease ending before the planned wake-up: plan again (one compare per claim otherwise)."""
        if expires < self.due:
            self.due = expires
            self.wake.notify()

    def results_stored(self) -> None:
        """Finished tasks were added: the count bound is applied within EVICT_EVERY."""
        if self._results_due is None:
            self._results_due = self.service.clock.time() + EVICT_EVERY
            self.lease_granted(self._results_due)

    async def run(self) -> None:
        """Until cancelled (or the service stops): a pass, then sleep until the next due time."""
        service, clock = self.service, self.service.clock
        floor = service.settings.reap_interval
        evict_at: float | None = -math.inf  # evict once at start
        while not service.stopping:
            seen = self.wake.generation
            started = clock.monotonic()
            self.passes += 1
            self.due = math.inf  # a lease granted during this pass wakes the next one at once
            try:
                await service.reap_once()
                now = clock.time()
                if (evict_at is not None and now >= evict_at) or (
                    self._results_due is not None and now >= self._results_due
                ):
                    self._results_due = None
                    if evicted := await service.call(service.store.evict):
                        log.info("evicted %d finished or dead task(s) past retention", evicted)
                    evict_at = await service.call(service.store.next_eviction_at)
                expiry = await service.call(service.store.next_expiry)
                due = min(t for t in (expiry, evict_at, self._results_due, now + MAX_SLEEP) if t is not None)
            except Exception:  # the timer must outlive a bad moment of the disk; it logs and tries again
                log.exception("queue timer pass failed")
                due = clock.time() + floor
            self.due = due
            await self.wake.wait(seen, max(due - clock.time(), 0.0))
            rest = floor - (clock.monotonic() - started)
            if rest > 0 and not service.stopping:
                await asyncio.sleep(rest)
