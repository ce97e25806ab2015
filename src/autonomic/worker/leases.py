"""Keeping the leases of every task the worker holds, running or waiting in its reserve.

One timer for all of them, not one per task: it fires when the earliest lease is within a third of
its end, extends every lease that close (in parallel), and is set again for the next. Holding a task
costs a dict entry (and moving the timer, if it must fire sooner). Idle, nothing wakes.
A lease the server no longer grants (the task was cancelled, or its lease ran out and it went to
another worker) is reported through `on_lost`, and the worker abandons that task.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from autonomic.worker.client import ClaimClient
from autonomic.worker.link import Link, unreachable

log = logging.getLogger("autonomic.worker")
MIN_SLEEP = 0.05


class LeaseKeeper:
    """`hold` a task when it is claimed, `drop` it once its result is sent or it is released."""

    def __init__(self, client: ClaimClient, link: Link, lease: float, on_lost: Callable[[str], None]) -> None:
        self._client = client
        self._link = link
        self._lease = lease
        self._on_lost = on_lost
        self._ends: dict[str, float] = {}
        self._due = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self._next_due = float("inf")

    def __contains__(self, task_id: str) -> bool:
        return task_id in self._ends

    def hold(self, task_id: str, claimed_at: float | None = None) -> None:
        """Start keeping `task_id`'s lease, granted at `claimed_at` (monotonic; default now)."""
        end = (time.monotonic() if claimed_at is None else claimed_at) + self._lease
        self._ends[task_id] = end
        if end - self._lease / 3 < self._next_due:  # due before the timer would fire: move it
            self._arm(end - self._lease / 3)

    def drop(self, task_id: str) -> None:
        self._ends.pop(task_id, None)

    async def run(self) -> None:
        """Forever: wait for the timer, extend what is due, set the timer for the next."""
        while True:
            await self._due.wait()
            self._due.clear()
            self._timer, self._next_due = None, float("inf")
            await self._extend_due()
            if self._ends and self._timer is None:
                self._arm(min(self._ends.values()) - self._lease / 3)

    def _arm(self, due: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._next_due = due
        self._timer = asyncio.get_running_loop().call_later(max(due - time.monotonic(), 0.0), self._due.set)

    async def _extend_due(self) -> None:
        horizon = time.monotonic() + self._lease / 3
        due = [task_id for task_id, end in self._ends.items() if end <= horizon]
        started = time.monotonic()
        kept = await asyncio.gather(*(self._extend(task_id) for task_id in due), return_exceptions=True)
        trouble: BaseException | None = None
        for task_id, answer in zip(due, kept, strict=True):
            if task_id not in self._ends:  # sent or released meanwhile
                continue
            if answer is True:
                self._ends[task_id] = started + self._lease
            elif isinstance(answer, BaseException) and unreachable(answer):
                trouble = answer
            else:
                self._ends.pop(task_id, None)
                self._on_lost(task_id)
        if trouble is not None:  # the server is away: try again soon, well before the leases run out
            await asyncio.sleep(max(MIN_SLEEP, min(self._lease / 10, self._link.down(trouble))))
        else:
            await asyncio.sleep(MIN_SLEEP)

    async def _extend(self, task_id: str) -> bool:
        kept = await self._client.extend(task_id, self._lease)
        self._link.up()
        return kept
