"""The worker loop: claim what it has handlers for, run up to N at once, keep leases, report, drain.

Life of a task here: claimed (one request for as many as there is room for: the free slots plus a
reserve, see `reserve.Pace`) → waiting in the reserve, most urgent first → running in one of the
`concurrency` slots (handler under a timeout) → result queued in the outbox → sent, in batches. Its
lease is kept from the claim until the result is through (`LeaseKeeper`, one timer for all).

Whenever a task finishes there is room, and the next claim goes out at once: the server hands out
urgent tasks first, and the reserve runs them first, so an urgent task never waits behind this
worker's reserve for longer than one task takes. On SIGTERM the worker stops claiming, hands the
reserve back at once, gives running tasks `drain_timeout` to finish, then abandons and releases the
rest so another worker gets them at once; a second SIGTERM cuts the wait short. After a kill -9 the
leases simply expire, the reserve's like the running tasks'.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autonomic import __version__
from autonomic.errors import BadAnswer, InvalidRequest, QueueAuthError, QueueRefused, WorkerError
from autonomic.worker import execution, liveness
from autonomic.worker.client import ClaimClient
from autonomic.worker.context import Resources, TaskContext
from autonomic.worker.files import FileGuard
from autonomic.worker.leases import LeaseKeeper
from autonomic.worker.link import Link
from autonomic.worker.outbox import Outbox
from autonomic.worker.registry import Registry
from autonomic.worker.reserve import Pace, Reserve
from autonomic.worker.settings import WorkerSettings
from autonomic.workspace import Workspace

log = logging.getLogger("autonomic.worker")
FLUSH_TIMEOUT = 5.0
RELEASE_ERROR = "worker stopped before the task finished"
RESERVE_ERROR = "worker stopped; handed back from its reserve"
YIELD_EVERY = 0.002  # a slot running instant tasks back to back lets the loop breathe this often


@dataclass(frozen=True)
class WorkerOptions:
    """How this worker runs: resolved from `[worker]` and the command line by the composer."""

    name: str
    url: str
    concurrency: int
    lease: float
    poll_wait: float
    task_timeout: float
    drain_timeout: float
    prefetch: int
    heartbeat_file: Path | None = None


@dataclass
class Running:
    task: Any
    ctx: TaskContext
    scope: execution.Scope = field(default_factory=execution.Scope)


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
        self._leases = LeaseKeeper(client, self._link, options.lease, self._lease_lost)
        self._outbox = Outbox(client, self._link, self._leases.drop)
        self._reserve = Reserve()
        self._pace = Pace()
        self._running: dict[str, Running] = {}
        self._strays: set[asyncio.Task[bool]] = set()
        self._stopping = asyncio.Event()
        self._forced = asyncio.Event()
        self._room = asyncio.Event()
        self._claiming: asyncio.Task[None] | None = None
        self.started = 0

    def stop(self) -> None:
        """Stop claiming and drain; a second call skips the rest of the grace period."""
        if self._stopping.is_set():
            self._forced.set()
        self._stopping.set()
        if self._claiming is not None:  # a long poll in flight is hung up: the server keeps its tasks
            self._claiming.cancel()

    @property
    def held(self) -> int:
        return len(self._running) + len(self._reserve)

    @property
    def capacity(self) -> int:
        """Tasks to hold at most right now: the slots and the reserve that suits the tasks' pace."""
        options = self._options
        return options.concurrency + self._pace.reserve(options.concurrency, options.prefetch)

    async def run(self) -> None:
        """Work until `stop()` (or SIGTERM/SIGINT), then drain, release and return."""
        self._install_signals()
        options = self._options
        log.info(
            "worker %s: claiming %s from %s, %d at a time, prefetch %d",
            options.name,
            ", ".join(self._registry.types),
            options.url,
            options.concurrency,
            options.prefetch,
        )
        for type_, why in sorted(self._registry.skipped.items()):
            log.info("not claiming %s: %s", type_, why)
        background = [
            asyncio.create_task(coro)
            for coro in (
                liveness.touch_forever(options.heartbeat_file),
                liveness.heartbeat_forever(self._client, self._link, self._info),
                self._outbox.run(),
                self._leases.run(),
            )
        ]
        slots = [asyncio.create_task(self._slot(), name=f"slot-{n}") for n in range(options.concurrency)]
        fatal: WorkerError | None = None
        try:
            self._claiming = asyncio.create_task(self._claim_loop())
            try:
                await self._claiming
            except WorkerError as exc:  # a claim that can never succeed: stop, handing back what is held
                log.error("%s", exc)
                fatal = exc
            except asyncio.CancelledError:
                if not self._stopping.is_set():  # cancelled from outside, not stopped
                    raise
            await self._drain(slots)
        finally:
            for slot in slots:
                slot.cancel()
            await asyncio.gather(*slots, return_exceptions=True)
            await asyncio.gather(*self._strays, return_exceptions=True)
            for job in background:
                job.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await self._resources.close()
            log.info(
                "worker %s stopped (%d task(s) run, %d result(s) sent)",
                options.name,
                self.started,
                self._outbox.sent,
            )
        if fatal is not None:
            raise fatal

    # --- claiming -------------------------------------------------------------------------------
    async def _claim_loop(self) -> None:
        while not self._stopping.is_set():
            room = self.capacity - self.held
            if room <= 0:
                self._room.clear()
                await self._room.wait()
                continue
            began = time.monotonic()
            claimed = await self._claim(room)
            # the server granted the leases as it answered (a long poll may have waited long before)
            claimed_at = max(began, time.monotonic() - self._options.lease / 10)
            for task in claimed:
                self._accept(task, claimed_at)
            if claimed:  # let the slots start them and the outbox send what they finish, then claim more
                await asyncio.sleep(0)
                await asyncio.sleep(0)

    async def _claim(self, room: int) -> list[Any]:
        """Claim up to `room` tasks (long-polling); `stop()` cancels this, hanging up the request."""
        began = time.monotonic()
        try:
            tasks = await self._client.claim(
                self._registry.types, max_tasks=room, wait=self._options.poll_wait, lease=self._options.lease
            )
        except (QueueRefused, InvalidRequest, BadAnswer) as exc:
            if isinstance(exc, QueueAuthError):  # a token can be fixed while the worker waits
                await asyncio.sleep(self._link.down(exc))
                return []
            raise WorkerError(
                f"the queue server at {self._options.url} refuses this worker's claims: {exc}"
            ) from None
        except Exception as exc:  # the loop must outlive any server trouble
            await asyncio.sleep(self._link.down(exc))
            return []
        self._link.up()
        if not tasks and time.monotonic() - began < 0.05:
            await asyncio.sleep(0.2)  # a server that does not long-poll
        return list(tasks)

    def _accept(self, task: Any, claimed_at: float) -> None:
        if self._registry.get(task.type) is None or task.task_id in self._running:
            log.warning("task %s (%s) is not ours to run; handing it back", task.task_id, task.type)
            self._hand_back(task.task_id, "not handled by this worker")
            return
        self._leases.hold(task.task_id, claimed_at)
        self._reserve.put(task)

    # --- running --------------------------------------------------------------------------------
    async def _slot(self) -> None:
        """One of `concurrency` slots: run reserved tasks one after another until the reserve closes."""
        loop = asyncio.get_running_loop()
        breathed = loop.time()
        while (task := await self._reserve.get()) is not None:
            await self._execute(task)
            if loop.time() - breathed > YIELD_EVERY:  # instant tasks never suspend: let the loop in
                await asyncio.sleep(0)
                breathed = loop.time()

    async def _execute(self, task: Any) -> None:
        registered = self._registry.get(task.type)
        if registered is None or task.task_id not in self._leases:  # lost while it waited
            return
        ctx = TaskContext(
            task_id=task.task_id,
            type=task.type,
            data=task.data,
            attempts=task.attempts,
            worker=self._options.name,
            workspace=self._workspace,
            settings=self._settings,
            files=self._files,
            resources=self._resources,
        )
        running = Running(task, ctx)
        self._running[task.task_id] = running
        self.started += 1
        timeout = execution.task_timeout(ctx.data, self._options.task_timeout)
        began = time.monotonic()
        try:
            outcome = await execution.run(registered, ctx, timeout, running.scope)
        except asyncio.CancelledError:
            self._finished(task.task_id)
            self._leases.drop(task.task_id)
            self._hand_back(task.task_id, RELEASE_ERROR)
            raise
        except Exception as exc:  # a bug in the worker, not in the task: hand the task back
            log.exception("task %s: worker error", task.task_id)
            self._finished(task.task_id)
            self._leases.drop(task.task_id)
            self._hand_back(task.task_id, f"worker error: {exc!r}")
            return
        self._pace.ran(time.monotonic() - began)
        self._finished(task.task_id)
        if running.scope.abandoned:  # lease lost, or the worker stops: no result from here
            return
        self._outbox.put(task.task_id, outcome)
        if not outcome.success:
            log.info("task %s (%s) failed: %s", task.task_id, task.type, outcome.error)

    def _finished(self, task_id: str) -> None:
        self._running.pop(task_id, None)
        self._room.set()

    def _hand_back(self, task_id: str, error: str) -> None:
        """Release `task_id` in the background (from code that cannot await)."""
        job = asyncio.create_task(self._release(task_id, error))
        self._strays.add(job)
        job.add_done_callback(self._strays.discard)

    def _lease_lost(self, task_id: str) -> None:
        running = self._running.get(task_id)
        if running is not None:
            log.warning("lost the lease on task %s (%s); abandoning it", task_id, running.ctx.type)
            running.scope.abandon()
        else:
            log.warning("lost the lease on reserved task %s; it will not run here", task_id)
        self._room.set()

    # --- stopping -------------------------------------------------------------------------------
    async def _drain(self, slots: list[asyncio.Task[None]]) -> None:
        waiting = self._reserve.close()
        for task in waiting:
            self._leases.drop(task.task_id)
        released = sum(await asyncio.gather(*(self._release(t.task_id, RESERVE_ERROR) for t in waiting)))
        if waiting:
            log.info("stopping: handed back %d of %d reserved task(s)", released, len(waiting))
        if self._running:
            log.info(
                "stopping: giving %d running task(s) up to %gs to finish",
                len(self._running),
                self._options.drain_timeout,
            )
            finished = asyncio.ensure_future(asyncio.wait(slots))
            forced = asyncio.ensure_future(self._forced.wait())
            await asyncio.wait(
                {finished, forced}, timeout=self._options.drain_timeout, return_when=asyncio.FIRST_COMPLETED
            )
            finished.cancel()
            forced.cancel()
        await self._release_unfinished(slots)
        if not await self._outbox.flush(FLUSH_TIMEOUT):
            log.warning("stopping with results unsent; their tasks will be delivered again")

    async def _release_unfinished(self, slots: list[asyncio.Task[None]]) -> None:
        left = list(self._running.values())
        for running in left:
            running.scope.abandon()
        await asyncio.wait(slots, timeout=FLUSH_TIMEOUT)  # each slot ends once its task is abandoned
        for running in left:
            self._leases.drop(running.task.task_id)
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

    def _info(self) -> dict[str, Any]:
        """What the heartbeat tells the server about this worker (shown in /api/workers)."""
        return {
            "name": self._options.name,
            "types": self._registry.types,
            "concurrency": self._options.concurrency,
            "running": len(self._running),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "version": __version__,
            "allow": [str(capability) for capability in self._settings.allow],
            "prefetch": self._options.prefetch,
        }

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(signum, self.stop)
            except (NotImplementedError, RuntimeError):  # Windows: no loop signal handlers
                signal.signal(signum, lambda *_: loop.call_soon_threadsafe(self.stop))
