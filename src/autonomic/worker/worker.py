"""The worker loop: claim what it has handlers for, run up to N at once, keep leases, report, drain.

Life of a task here: claimed (long-poll, as many as there are free slots, only this worker's types) →
running (handler under a timeout; its lease extended every third of the lease) → result queued in the
outbox (the lease is still kept) → sent (lease keeping stops). On SIGTERM the worker stops claiming,
gives running tasks `drain_timeout` to finish, then cancels and releases the rest so another worker
gets them at once; a second SIGTERM cuts the wait short. After a kill -9 the leases simply expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from autonomic import __version__
from autonomic.worker import liveness, runner
from autonomic.worker.client import ClaimClient
from autonomic.worker.context import Resources, TaskContext
from autonomic.worker.files import FileGuard
from autonomic.worker.handler import Registered
from autonomic.worker.link import Link, unreachable
from autonomic.worker.outbox import Outbox
from autonomic.worker.registry import Registry
from autonomic.worker.settings import WorkerSettings
from autonomic.workspace import Workspace

log = logging.getLogger("autonomic.worker")
T = TypeVar("T")
SERVER_HEARTBEAT = 5.0
FLUSH_TIMEOUT = 5.0
RELEASE_ERROR = "worker stopped before the task finished"


@dataclass(frozen=True)
class WorkerOptions:
    """How this worker runs: resolved from `[worker]` and the command line."""

    name: str
    url: str
    concurrency: int
    lease: float
    poll_wait: float
    task_timeout: float
    drain_timeout: float
    heartbeat_file: Path | None = None


@dataclass
class Running:
    task: Any
    ctx: TaskContext
    job: asyncio.Task[None]


class Worker:
    """One worker process's loop. `run()` returns once it has stopped and handed back what it held."""

    def __init__(
        self,
        client: ClaimClient,
        registry: Registry,
        settings: WorkerSettings,
        workspace: Workspace,
        options: WorkerOptions,
    ) -> None:
        self._client = client
        self._registry = registry
        self._settings = settings
        self._workspace = workspace
        self._options = options
        self._link = Link(options.url)
        self._resources = Resources(settings, capabilities=registry.types)
        self._files = FileGuard.for_workspace(workspace, settings.file_dirs)
        self._outbox = Outbox(client, self._link, self._result_sent)
        self._running: dict[str, Running] = {}
        self._keepers: dict[str, asyncio.Task[None]] = {}
        self._strays: set[asyncio.Task[bool]] = set()
        self._stopping = asyncio.Event()
        self._forced = asyncio.Event()
        self._slot_free = asyncio.Event()
        self.started = 0

    def stop(self) -> None:
        """Stop claiming and drain; a second call skips the rest of the grace period."""
        if self._stopping.is_set():
            self._forced.set()
        self._stopping.set()

    async def run(self) -> None:
        """Work until `stop()` (or SIGTERM/SIGINT), then drain, release and return."""
        self._install_signals()
        log.info(
            "worker %s: claiming %s from %s, %d at a time",
            self._options.name,
            ", ".join(self._registry.types),
            self._options.url,
            self._options.concurrency,
        )
        for type_, why in sorted(self._registry.skipped.items()):
            log.info("not claiming %s: %s", type_, why)
        background = [
            asyncio.create_task(coro)
            for coro in (self._touch_loop(), self._heartbeat_loop(), self._outbox.run())
        ]
        try:
            await self._claim_loop()
            await self._drain()
        finally:
            await asyncio.gather(*self._strays, return_exceptions=True)
            for job in (*background, *self._keepers.values()):
                job.cancel()
            await asyncio.gather(*background, *self._keepers.values(), return_exceptions=True)
            await self._resources.close()
            log.info(
                "worker %s stopped (%d task(s) run, %d result(s) sent)",
                self._options.name,
                self.started,
                self._outbox.sent,
            )

    # --- claiming -------------------------------------------------------------------------------
    async def _claim_loop(self) -> None:
        while not self._stopping.is_set():
            free = self._options.concurrency - len(self._running)
            if free <= 0:
                self._slot_free.clear()
                await self._unless_stopped(self._slot_free.wait())
                continue
            for task in await self._claim(free):
                self._start(task)

    async def _claim(self, free: int) -> list[Any]:
        began = time.monotonic()
        try:
            tasks = await self._unless_stopped(
                self._client.claim(
                    self._registry.types,
                    max_tasks=free,
                    wait=self._options.poll_wait,
                    lease=self._options.lease,
                )
            )
        except Exception as exc:  # the loop must outlive any server trouble
            await self._unless_stopped(asyncio.sleep(self._link.down(exc)))
            return []
        if tasks is None:
            return []
        self._link.up()
        if not tasks and time.monotonic() - began < 0.05 and self._options.poll_wait > 0:
            await self._unless_stopped(asyncio.sleep(0.2))  # a server that does not long-poll
        return list(tasks)

    async def _unless_stopped(self, coro: Coroutine[Any, Any, T]) -> T | None:
        """`await coro`, unless the worker is told to stop first (then `coro` is cancelled)."""
        job = asyncio.ensure_future(coro)
        stopper = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({job, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if job.done():
            return job.result()
        job.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await job
        return None

    # --- running --------------------------------------------------------------------------------
    def _start(self, task: Any) -> None:
        registered = self._registry.get(task.type)
        if registered is None or task.task_id in self._running:
            log.warning("task %s (%s) is not ours to run; handing it back", task.task_id, task.type)
            self._hand_back(task.task_id, "not handled by this worker")
            return
        ctx = TaskContext(
            task_id=task.task_id,
            type=task.type,
            data=dict(task.data or {}),
            attempts=task.attempts,
            worker=self._options.name,
            workspace=self._workspace,
            settings=self._settings,
            files=self._files,
            resources=self._resources,
        )
        job = asyncio.create_task(self._execute(registered, ctx), name=f"task-{task.task_id}")
        self._running[task.task_id] = Running(task, ctx, job)
        self._keepers[task.task_id] = asyncio.create_task(self._keep_lease(task.task_id))
        job.add_done_callback(lambda done: self._finished(task.task_id, done))
        self.started += 1

    async def _execute(self, registered: Registered, ctx: TaskContext) -> None:
        outcome = await runner.run(registered, ctx, runner.task_timeout(ctx.data, self._options.task_timeout))
        self._outbox.put(ctx.task_id, outcome)
        if outcome.success:
            log.debug("task %s (%s) done in %ss", ctx.task_id, ctx.type, outcome.data["execution_time"])
        else:
            log.info("task %s (%s) failed: %s", ctx.task_id, ctx.type, outcome.error)

    def _finished(self, task_id: str, job: asyncio.Task[None]) -> None:
        self._running.pop(task_id, None)
        self._slot_free.set()
        if job.cancelled() or job.exception() is not None:  # no result is coming: stop holding the lease
            self._result_sent(task_id)
        if not job.cancelled() and (error := job.exception()) is not None:
            log.error("task %s: worker error %r", task_id, error)
            self._hand_back(task_id, f"worker error: {error!r}")

    def _hand_back(self, task_id: str, error: str) -> None:
        """Release `task_id` in the background (from code that cannot await)."""
        job = asyncio.create_task(self._release(task_id, error))
        self._strays.add(job)
        job.add_done_callback(self._strays.discard)

    def _result_sent(self, task_id: str) -> None:
        if keeper := self._keepers.pop(task_id, None):
            keeper.cancel()

    async def _keep_lease(self, task_id: str) -> None:
        """Extend the task's lease every third of it until its result is sent; on loss, abandon the task."""
        every = max(self._options.lease / 3, 0.05)
        wait = every
        while True:
            await asyncio.sleep(wait)
            try:
                kept = await self._client.extend(task_id, self._options.lease)
            except Exception as exc:
                if unreachable(exc):
                    wait = min(every, self._link.down(exc))
                    continue
                kept = False
            wait = every
            if not kept:
                self._lease_lost(task_id)
                return

    def _lease_lost(self, task_id: str) -> None:
        self._keepers.pop(task_id, None)
        running = self._running.get(task_id)
        if running is not None:
            log.warning("lost the lease on task %s (%s); abandoning it", task_id, running.ctx.type)
            running.job.cancel()

    # --- stopping -------------------------------------------------------------------------------
    async def _drain(self) -> None:
        if self._running:
            log.info(
                "stopping: giving %d running task(s) up to %gs to finish",
                len(self._running),
                self._options.drain_timeout,
            )
            finished = asyncio.ensure_future(asyncio.wait([r.job for r in self._running.values()]))
            forced = asyncio.ensure_future(self._forced.wait())
            await asyncio.wait(
                {finished, forced}, timeout=self._options.drain_timeout, return_when=asyncio.FIRST_COMPLETED
            )
            finished.cancel()
            forced.cancel()
        await self._release_unfinished()
        if not await self._outbox.flush(FLUSH_TIMEOUT):
            log.warning("stopping with results unsent; their tasks will be delivered again")

    async def _release_unfinished(self) -> None:
        left = list(self._running.values())
        for running in left:
            running.job.cancel()
            running.ctx.cancelled.set()
        await asyncio.gather(*(r.job for r in left), return_exceptions=True)
        for running in left:
            self._result_sent(running.task.task_id)
        released = sum(await asyncio.gather(*(self._release(r.task.task_id, RELEASE_ERROR) for r in left)))
        if left:
            log.info("released %d of %d unfinished task(s)", released, len(left))

    async def _release(self, task_id: str, error: str) -> bool:
        try:
            await asyncio.wait_for(self._client.release(task_id, 0.0, error), FLUSH_TIMEOUT)
        except Exception as exc:
            log.warning("could not release task %s (%s); its lease will expire", task_id, exc)
            return False
        return True

    # --- liveness -------------------------------------------------------------------------------
    async def _touch_loop(self) -> None:
        path = self._options.heartbeat_file
        if path is None:
            return
        while True:
            try:
                liveness.touch(path)
            except OSError as exc:
                log.warning("cannot touch the heartbeat file %s: %s", path, exc)
            await asyncio.sleep(liveness.INTERVAL)

    async def _heartbeat_loop(self) -> None:
        from autonomic.queue.schemas import WorkerInfo

        while True:
            info = WorkerInfo(
                name=self._options.name,
                types=self._registry.types,
                concurrency=self._options.concurrency,
                running=len(self._running),
                host=socket.gethostname(),
                pid=os.getpid(),
                version=__version__,
                allow=list(self._settings.allow),
            )
            try:
                await self._client.heartbeat(info)
                self._link.up()
            except Exception as exc:
                self._link.down(exc)
            await asyncio.sleep(SERVER_HEARTBEAT)

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(signum, self.stop)
            except (NotImplementedError, RuntimeError):  # Windows: no loop signal handlers
                signal.signal(signum, lambda *_: loop.call_soon_threadsafe(self.stop))
