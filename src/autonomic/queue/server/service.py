"""`QueueService`: what the routes call. Adds to the store what a store cannot know: time passing
(long polls, the timers), in-process wake-ups, the live-worker view, and the API's shapes (the store
returns its own records; `views` maps them)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC
from typing import Any, TypeVar

import anyio.to_thread

from autonomic.clock import Clock, SystemClock
from autonomic.queue.schemas import Health, Result, Stats, Task, TaskCreate, Worker
from autonomic.queue.server import views
from autonomic.queue.server.timers import Timers
from autonomic.queue.server.waiters import Hangup, Ready, ResultWaiters
from autonomic.queue.settings import QueueSettings
from autonomic.queue.store.base import PAGE_MAX, Store
from autonomic.queue.store.records import (
    Claim,
    Created,
    NewTask,
    Outcome,
    ResultRecord,
    Submission,
    TaskRecord,
)
from autonomic.queue.task import Priority, TaskStatus

log = logging.getLogger("autonomic.queue")
T = TypeVar("T")
TOUCH_EVERY = 1.0  # a claiming worker's last-seen is written at most this often
SLICE = 100  # rows read per store call when a page is assembled


class QueueService:
    """The queue's behaviour over time, on one event loop, over one `Store`, on one `Clock`.

    The store is given the same clock, so a `run_at` computed here is compared there on the same time.
    """

    def __init__(self, store: Store, settings: QueueSettings, clock: Clock | None = None) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock or SystemClock()
        self.ready = Ready()
        self.results = ResultWaiters()
        self.timers = Timers(self)
        self.stopping = False
        self._touched: dict[tuple[str, tuple[str, ...]], float] = {}

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a store method: inline for a local store, in a thread for one that may block on a network."""
        if self.store.inline:
            return fn(*args)
        return await anyio.to_thread.run_sync(fn, *args)

    # --- tasks ------------------------------------------------------------------------------------

    def new_task(self, body: TaskCreate, priority: Priority | None = None) -> NewTask:
        """Resolve a create request's defaults: priority, run_at from delay, attempts from settings."""
        run_at = None
        if body.delay is not None:
            run_at = self.clock.time() + body.delay
        elif body.run_at is not None:
            when = body.run_at if body.run_at.tzinfo else body.run_at.replace(tzinfo=UTC)
            run_at = when.timestamp()
        return NewTask(
            type=body.type,
            data=body.data,
            priority=body.priority or priority or Priority.NORMAL,
            run_at=run_at,
            max_attempts=self.settings.max_attempts if body.max_attempts is None else body.max_attempts,
            idempotency_key=body.idempotency_key,
        )

    async def create(self, tasks: Sequence[NewTask]) -> list[Created]:
        """Store new tasks. Claims waiting for their types are served in the same transaction and woken
        with their tasks; the other waiters are woken only if something is left for them."""
        now = self.clock.time()
        due = {task.type for task in tasks if task.run_at is None or task.run_at <= now}
        waiting = self.ready.waiting(due) if due else []
        if not waiting:
            created = await self.call(self.store.create, list(tasks))
            if any(c.created for c in created):
                self.ready.notify()
            return created
        claims = [claim for _, claim in waiting]
        created, handed = await self.call(self.store.create_and_claim, list(tasks), claims)
        taken: set[str] = set()
        for (future, claim), leased in zip(waiting, handed, strict=True):
            if not leased:
                continue
            taken.update(task.id for task in leased)
            self.timers.lease_granted(now + claim.lease)
            if not self.ready.hand(future, leased):  # it stopped waiting while the store worked
                await self._unclaim(claim.worker, [task.id for task in leased])
        if any(c.created and (c.task.id not in taken or c.task.run_at > now) for c in created):
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
        await self.touch(worker, types)
        limit = min(limit, self.settings.max_batch)
        lease = self.settings.lease if lease is None else lease
        deadline = self.clock.monotonic() + min(wait, self.settings.max_wait)
        claim = Claim(worker, tuple(types), limit, lease)
        while True:
            if hangup is not None and hangup.gone:
                return []
            seen = self.ready.generation
            tasks = await self.call(self.store.claim, worker, list(types), limit, lease)
            if tasks:
                self.timers.lease_granted(self.clock.time() + lease)
            else:
                remaining = deadline - self.clock.monotonic()
                if remaining <= 0 or self.stopping:
                    return []
                ready_at = await self.call(self.store.next_ready_at, list(types))
                if ready_at is not None:  # a delayed task: wake when it is due even if nobody notifies
                    remaining = min(remaining, max(ready_at - self.clock.time(), 0.001))
                handed: list[TaskRecord] | None = await self.ready.wait(seen, remaining, hangup, claim)
                if not handed:
                    continue
                tasks = handed  # a create leased them to this claim in its own transaction
            if hangup is not None and hangup.gone:
                await self._unclaim(worker, [task.id for task in tasks])
                return []
            return [views.task(task) for task in tasks]

    async def _unclaim(self, worker: str, task_ids: list[str]) -> None:
        """The claimer hung up while its claim was made: the tasks go back, their attempt not counted."""
        back = await self.call(self.store.unclaim, worker, task_ids)
        log.info("worker %s went away during its claim: %d task(s) handed back", worker, len(back))
        self.ready.notify()

    async def submit(self, results: Sequence[Submission]) -> list[Outcome]:
        outcomes = await self.call(self.store.submit, list(results))
        stored = woken = 0
        for outcome in outcomes:
            if outcome.accepted:
                stored += 1
                woken += self.results.resolve(outcome.task_id, outcome.result)
        if stored:
            self.timers.results_stored()
        if woken:
            # Let the woken readers answer first: their callers wait for this result, while the
            # submitter (a worker) only waits for its acknowledgement.
            await asyncio.sleep(0)
        return outcomes

    async def extend(self, task_id: str, worker: str, lease: float, attempt: int | None) -> Task | None:
        record = await self.call(self.store.extend, task_id, worker, lease, attempt)
        return None if record is None else views.task(record)

    async def release(self, task_id: str, worker: str, delay: float, error: str | None) -> Task:
        record = await self.call(self.store.release, task_id, worker, delay, error)
        self.ready.notify()
        return views.task(record)

    async def cancel(self, task_id: str) -> Task:
        record = await self.call(self.store.cancel, task_id)
        self.timers.results_stored()
        return views.task(record)

    async def requeue(self, task_id: str) -> Task:
        record = await self.call(self.store.requeue, task_id)
        self.ready.notify()
        return views.task(record)

    async def get(self, task_id: str) -> Task:
        return views.task(await self.call(self.store.get, task_id))

    async def result(
        self,
        task_id: str,
        wait: float,
        hangup: Hangup | None = None,
        *,
        expected: asyncio.Future[ResultRecord | None] | None = None,
    ) -> Result | None:
        """The stored result, long-polling up to `wait` seconds for it to arrive (or the caller to leave).

        `expected`: the caller registered (`results.expect`) right after creating the task in this
        process, with no suspension in between, so a result can only come through that registration
        and the first read of the store is skipped (an inline store only: elsewhere the task was
        created by another thread's call, and the store is read). A result stored here is handed over
        in memory with the wake-up; only a wake-up without one reads the store.
        """
        deadline = self.clock.monotonic() + min(wait, self.settings.max_wait)
        try:
            found = None
            if expected is None or not self.store.inline:
                found = await self.call(self.store.result, task_id)
            while True:
                remaining = deadline - self.clock.monotonic()
                gone = hangup is not None and hangup.gone
                if found is not None or remaining <= 0 or self.stopping or gone:
                    return None if found is None else views.result(found)
                found = await self.results.wait(task_id, remaining, hangup, expected)
                expected = None
                if found is None:
                    found = await self.call(self.store.result, task_id)
        finally:
            if expected is not None:
                self.results.forget(task_id, expected)

    # --- pages ------------------------------------------------------------------------------------

    # A page is read in slices of SLICE, yielding the loop between them: eight clients asking for
    # 1,000 tasks at once cannot hold up /api/health (or a claim) for the whole of their answers.

    async def tasks(
        self, status: TaskStatus, types: Sequence[str], limit: int, after: str | None
    ) -> tuple[list[Task], str | None]:
        found: list[Task] = []
        limit = min(max(limit, 0), PAGE_MAX)
        while True:
            page = await self.call(
                self.store.tasks, status, list(types), min(SLICE, limit - len(found)), after
            )
            found.extend(views.task(task) for task in page.items)
            after = page.next
            if after is None or len(found) >= limit:
                return found, after
            await asyncio.sleep(0)

    async def results_page(self, limit: int, after: str | None) -> tuple[list[Result], str | None]:
        found: list[Result] = []
        limit = min(max(limit, 0), PAGE_MAX)
        while True:
            page = await self.call(self.store.results, min(SLICE, limit - len(found)), after)
            found.extend(views.result(result) for result in page.items)
            after = page.next
            if after is None or len(found) >= limit:
                return found, after
            await asyncio.sleep(0)

    async def workers(self, limit: int, after: str | None) -> tuple[list[Worker], str | None]:
        page = await self.call(self.store.workers, limit, after)
        now = self.clock.time()
        return [views.worker(w, now, self.settings.worker_ttl) for w in page.items], page.next

    # --- workers ----------------------------------------------------------------------------------

    async def touch(self, worker: str, types: Sequence[str]) -> None:
        """A claim is a sign of life: count the claimer as a live worker, claiming `types` (written at most
        once a second per worker and set of types)."""
        now = self.clock.monotonic()
        key = (worker, tuple(types))
        if now - self._touched.get(key, -TOUCH_EVERY) >= TOUCH_EVERY:
            if len(self._touched) > 10_000:  # names are the callers' choice: keep the memo bounded
                self._touched.clear()
            self._touched[key] = now
            await self.call(self.store.claimed, worker, list(types))

    # --- views ------------------------------------------------------------------------------------

    async def health(self) -> Health:
        counts = await self.call(self.store.counts)
        pending = {p: counts.of(TaskStatus.PENDING, p) for p in Priority}
        return Health(
            queue_size=sum(pending.values()),
            results_count=counts.of(TaskStatus.DONE) + counts.of(TaskStatus.FAILED),
            timestamp=views.at(self.clock.time()),
            queue_urgent=pending[Priority.URGENT],
            queue_normal=pending[Priority.NORMAL],
            queue_low=pending[Priority.LOW],
        )

    async def stats(self) -> Stats:
        counts = await self.call(self.store.counts)
        done, failed = counts.of(TaskStatus.DONE), counts.of(TaskStatus.FAILED)
        completed = done + failed
        now = self.clock.time()
        return Stats(
            pending=counts.of(TaskStatus.PENDING),
            inflight=counts.of(TaskStatus.LEASED),
            completed=completed,
            successful=done,
            failed=failed,
            # Nothing finished yet is not a failure: report 100 so an idle system raises no alert;
            # success_rate_basis (0 then) tells an idle system from a perfect one.
            success_rate=round(100.0 * done / completed, 2) if completed else 100.0,
            success_rate_basis=completed,
            workers=await self.call(self.store.live_workers, now - self.settings.worker_ttl),
            avg_duration_ms=round(await self.call(self.store.avg_duration_ms), 3),
            timestamp=views.at(now),
            pending_urgent=counts.of(TaskStatus.PENDING, Priority.URGENT),
            pending_normal=counts.of(TaskStatus.PENDING, Priority.NORMAL),
            pending_low=counts.of(TaskStatus.PENDING, Priority.LOW),
            dead=counts.of(TaskStatus.DEAD),
            cancelled=counts.of(TaskStatus.CANCELLED),
        )

    # --- lifetime ---------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """While the server runs: the timers reclaim expired leases and evict old tasks when due."""
        await self._listen()
        timers = asyncio.create_task(self.timers.run(), name="queue-timers")
        try:
            yield
        finally:
            self.stop()
            timers.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timers
            await self.call(self.store.close)

    async def _listen(self) -> None:
        """A store shared with other servers (PostgreSQL) reports, on a thread of its own, what they did:
        tasks made claimable, results stored, leases granted. They wake this server as its own would."""
        listen = getattr(self.store, "listen", None)
        if listen is None:
            return
        loop = asyncio.get_running_loop()
        await self.call(
            listen,
            lambda: loop.call_soon_threadsafe(self.ready.notify),
            lambda task_id: loop.call_soon_threadsafe(self.results.resolve, task_id),
            lambda expires: loop.call_soon_threadsafe(self.timers.lease_granted, expires),
        )

    def stop(self) -> None:
        """Wake every long poll so it answers now (empty) instead of holding up shutdown."""
        self.stopping = True
        self.ready.notify()
        self.results.resolve_all()
        self.timers.wake.notify()

    async def reap_once(self) -> int:
        """Reclaim expired leases now; wake waiting workers if any task went back to the queue."""
        reclaimed = await self.call(self.store.reclaim_expired)
        if any(task.status is TaskStatus.PENDING for task in reclaimed):
            self.ready.notify()
        return len(reclaimed)
