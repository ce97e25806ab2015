"""`QueueService`: what the routes call. Adds to the store what a store cannot know: time passing
(long polls, the lease reaper), in-process wake-ups, and the live-worker view."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import anyio.to_thread

from autonomic.queue.schemas import Health, Result, Stats, Task, TaskCreate, Worker
from autonomic.queue.server.waiters import Hangup, ResultWaiters, Signal
from autonomic.queue.settings import QueueSettings
from autonomic.queue.store.base import Created, NewTask, Outcome, Store, Submission
from autonomic.queue.task import Priority, TaskStatus

log = logging.getLogger("autonomic.queue")
T = TypeVar("T")
EVICT_EVERY = 60.0  # seconds between result-retention passes
TOUCH_EVERY = 1.0  # a claiming worker's last-seen is written at most this often


class QueueService:
    """The queue's behaviour over time, on one event loop, over one `Store`."""

    def __init__(self, store: Store, settings: QueueSettings) -> None:
        self.store = store
        self.settings = settings
        self.ready = Signal()
        self.results = ResultWaiters()
        self.stopping = False
        self._touched: dict[str, float] = {}

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a store method: inline for a local store, in a thread for one that may block on a network."""
        if self.store.inline:
            return fn(*args)
        return await anyio.to_thread.run_sync(fn, *args)

    # --- tasks ------------------------------------------------------------------------------------

    def new_task(self, body: TaskCreate, priority: Priority | None = None) -> NewTask:
        """Resolve a create request's defaults: priority, run_at from delay, attempts from settings."""
        run_at = None
        if body.delay:
            run_at = time.time() + body.delay
        elif body.run_at is not None:
            when = body.run_at if body.run_at.tzinfo else body.run_at.replace(tzinfo=UTC)
            run_at = when.timestamp()
        return NewTask(
            type=body.type,
            data=body.data,
            priority=body.priority or priority or Priority.NORMAL,
            run_at=run_at,
            max_attempts=body.max_attempts or self.settings.max_attempts,
            idempotency_key=body.idempotency_key,
        )

    async def create(self, tasks: Sequence[NewTask]) -> list[Created]:
        created = await self.call(self.store.create, list(tasks))
        if any(c.created for c in created):
            self.ready.notify()
        return created

    async def claim(
        self,
        worker: str,
        types: Sequence[str],
        limit: int,
        wait: float,
        lease: float | None,
        hangup: Hangup | None = None,
    ) -> list[Task]:
        """Lease up to `limit` tasks, long-polling up to `wait` seconds for the first to appear.

        With a `hangup`, a poll whose client has gone stops, and hands back what it claimed at once.
        """
        await self.touch(worker)
        limit = min(limit, self.settings.max_batch)
        deadline = time.monotonic() + min(wait, self.settings.max_wait)
        while True:
            if hangup is not None and hangup.gone:
                return []
            seen = self.ready.generation
            tasks = await self.call(
                self.store.claim, worker, list(types), limit, lease or self.settings.lease
            )
            if tasks and hangup is not None and hangup.gone:
                await self._unclaim(worker, tasks)
                return []
            remaining = deadline - time.monotonic()
            if tasks or remaining <= 0 or self.stopping:
                return tasks
            ready_at = await self.call(self.store.next_ready_at, list(types))
            if ready_at is not None:  # a delayed task: wake when it is due even if nobody notifies
                remaining = min(remaining, max(ready_at - time.time(), 0.001))
            await self.ready.wait(seen, remaining, hangup)

    async def _unclaim(self, worker: str, tasks: Sequence[Task]) -> None:
        """The claimer hung up while its claim was made: the tasks go back, their attempt not counted."""
        back = await self.call(self.store.unclaim, worker, [task.task_id for task in tasks])
        log.info("worker %s went away during its claim: %d task(s) handed back", worker, len(back))
        self.ready.notify()

    async def submit(self, results: Sequence[Submission]) -> list[Outcome]:
        outcomes = await self.call(self.store.submit, list(results))
        for outcome in outcomes:
            if outcome.accepted:
                self.results.resolve(outcome.task_id)
        return outcomes

    async def release(self, task_id: str, worker: str, delay: float, error: str | None) -> Task:
        task = await self.call(self.store.release, task_id, worker, delay, error)
        self.ready.notify()
        return task

    async def requeue(self, task_id: str) -> Task:
        task = await self.call(self.store.requeue, task_id)
        self.ready.notify()
        return task

    async def result(self, task_id: str, wait: float, hangup: Hangup | None = None) -> Result | None:
        """The stored result, long-polling up to `wait` seconds for it to arrive (or the caller to leave)."""
        deadline = time.monotonic() + min(wait, self.settings.max_wait)
        while True:
            found = await self.call(self.store.result, task_id)
            remaining = deadline - time.monotonic()
            if found is not None or remaining <= 0 or self.stopping or (hangup is not None and hangup.gone):
                return found
            await self.results.wait(task_id, remaining, hangup)

    # --- workers ----------------------------------------------------------------------------------

    async def touch(self, worker: str) -> None:
        """A claim is a sign of life: count the claimer as a live worker (written at most once a second)."""
        now = time.monotonic()
        if now - self._touched.get(worker, -TOUCH_EVERY) >= TOUCH_EVERY:
            self._touched[worker] = now
            await self.call(self.store.heartbeat, worker)

    async def workers(self) -> list[Worker]:
        now = time.time()
        return [
            Worker(
                name=record.name,
                last_seen=datetime.fromtimestamp(record.last_seen, UTC),
                age_sec=round(now - record.last_seen, 3),
                live=now - record.last_seen <= self.settings.worker_ttl,
                info=record.info,
            )
            for record in await self.call(self.store.workers)
        ]

    # --- views ------------------------------------------------------------------------------------

    async def health(self) -> Health:
        counts = await self.call(self.store.counts)
        pending = {p: counts.of(TaskStatus.PENDING, p) for p in Priority}
        return Health(
            queue_size=sum(pending.values()),
            results_count=counts.of(TaskStatus.DONE) + counts.of(TaskStatus.FAILED),
            timestamp=datetime.now(UTC),
            queue_urgent=pending[Priority.URGENT],
            queue_normal=pending[Priority.NORMAL],
            queue_low=pending[Priority.LOW],
        )

    async def stats(self) -> Stats:
        counts = await self.call(self.store.counts)
        done, failed = counts.of(TaskStatus.DONE), counts.of(TaskStatus.FAILED)
        completed = done + failed
        workers = await self.workers()
        return Stats(
            pending=counts.of(TaskStatus.PENDING),
            inflight=counts.of(TaskStatus.LEASED),
            completed=completed,
            successful=done,
            failed=failed,
            # Nothing finished yet is not a failure: report 100 so an idle system raises no alert.
            success_rate=round(100.0 * done / completed, 2) if completed else 100.0,
            workers=sum(1 for w in workers if w.live),
            avg_duration_ms=round(await self.call(self.store.avg_duration_ms), 3),
            timestamp=datetime.now(UTC),
            pending_urgent=counts.of(TaskStatus.PENDING, Priority.URGENT),
            pending_normal=counts.of(TaskStatus.PENDING, Priority.NORMAL),
            pending_low=counts.of(TaskStatus.PENDING, Priority.LOW),
            dead=counts.of(TaskStatus.DEAD),
            cancelled=counts.of(TaskStatus.CANCELLED),
        )

    # --- lifetime ---------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """While the server runs: the reaper reclaims expired leases and evicts old results on a timer."""
        reaper = asyncio.create_task(self._reap_forever(), name="queue-reaper")
        try:
            yield
        finally:
            self.stop()
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper
            await self.call(self.store.close)

    def stop(self) -> None:
        """Wake every long poll so it answers now (empty) instead of holding up shutdown."""
        self.stopping = True
        self.ready.notify()
        self.results.resolve_all()

    async def reap_once(self) -> int:
        """Reclaim expired leases now; wake waiting workers if any task went back to the queue."""
        reclaimed = await self.call(self.store.reclaim_expired)
        if any(task.status is TaskStatus.PENDING for task in reclaimed):
            self.ready.notify()
        return len(reclaimed)

    async def _reap_forever(self) -> None:
        last_evict = 0.0
        while True:
            try:
                await self.reap_once()
                if time.monotonic() - last_evict >= EVICT_EVERY:
                    last_evict = time.monotonic()
                    if evicted := await self.call(self.store.evict):
                        log.info("evicted %d finished task(s) past retention", evicted)
            except Exception:  # the reaper must outlive a bad moment of the disk; it logs and tries again
                log.exception("lease reaper pass failed")
            await asyncio.sleep(self.settings.reap_interval)
