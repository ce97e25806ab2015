"""A supervised service: its state machine, and the loop that keeps its process alive and healthy.

The loop survives anything that goes wrong around the process (an unwritable log, record or event
log, a bug): the failure is said (event, stderr, `problems` in status) and supervision goes on."""

from __future__ import annotations

import asyncio
import contextlib
import json
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from autonomic import probes
from autonomic.clock import Clock, SystemClock
from autonomic.eventlog import EventLog
from autonomic.platform import Platform
from autonomic.probes import ProbeKind, ProbeResult, ProbeSpec
from autonomic.supervisor import markers, outcome
from autonomic.supervisor import record as records
from autonomic.supervisor.backoff import Backoff
from autonomic.supervisor.outcome import Ending, Outcome
from autonomic.supervisor.problems import Problems
from autonomic.supervisor.process import ManagedProcess, Spawner, SpawnError
from autonomic.supervisor.protocol import ProbeStatus, ServiceStatus
from autonomic.supervisor.record import ProcessRecord
from autonomic.supervisor.spec import RestartPolicy, ServiceSpec
from autonomic.supervisor.state import ServiceState, check_transition

_FIRST_READY_POLL = 0.02
_MAX_READY_POLL = 0.5
_SETTLE = 2.0  # how long a process must outlive a probe answered by someone else's process
_FAULT_PAUSE = 1.0  # after an unexpected error in the loop, before it goes round again
_MIN_INTERVAL = 0.05  # a hand-edited plan.json cannot make the liveness loop spin
_WAITING_TO_RETRY = (ServiceState.BACKOFF, ServiceState.FATAL, ServiceState.RESTARTING)
_STARTSECS = 1.0  # without a probe, a process counts as running once it stayed up this long


@dataclass
class Context:
    """What a service needs from the orchestrator that runs it."""

    platform: Platform
    events: EventLog
    records_dir: Path
    logs_dir: Path
    env_for: Callable[[ServiceSpec], dict[str, str]]
    changed: asyncio.Condition
    lookup: Callable[[str], Service | None]
    root: Path = Path()
    clock: Clock = field(default_factory=SystemClock)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    spawner: Spawner = ManagedProcess.spawn


def spec_hash(spec: ServiceSpec) -> str:
    """A fingerprint of what the service runs: a changed config means a changed hash."""
    canonical = json.dumps(asdict(spec), sort_keys=True, default=str).encode()
    return f"{zlib.crc32(canonical):08x}{zlib.adler32(canonical):08x}"  # hashlib would load OpenSSL


class Service:
    def __init__(self, spec: ServiceSpec, ctx: Context) -> None:
        self.spec = spec
        self.ctx = ctx
        self.hash = spec_hash(spec)
        self.state = ServiceState.STOPPED
        self.since = ctx.clock.time()
        self.detail = ""
        self.reason: str | None = None
        self.retry_at: float | None = None
        self.blocked: str | None = None
        self.problems = Problems(spec.name, ctx.events)
        self.wanted = False
        self.process: ManagedProcess | None = None
        self.backoff = Backoff(spec.backoff)
        self.probe = probes.build(spec.probe)
        self.restarts = 0
        self.last_probe: ProbeResult | None = None
        self.last_probe_at: float | None = None
        self.last_exit: int | None = None
        self._last_uptime: float | None = None
        self._runner: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def record_path(self) -> Path:
        return self.ctx.records_dir / f"{self.name}.json"

    # --- the one place state changes -----------------------------------------------------
    async def _set_state(self, new: ServiceState, detail: str = "", reason: str | None = None) -> None:
        check_transition(self.state, new)
        old, self.state, self.since, self.detail = self.state, new, self.ctx.clock.time(), detail
        self.reason = reason
        if new not in _WAITING_TO_RETRY:
            self.retry_at = None
        self.ctx.events.write(
            "state",
            self.name,
            new.value,
            detail,
            previous=old.value,
            pid=self.process.pid if self.process else None,
            **({"reason": reason} if reason else {}),
        )
        async with self.ctx.changed:
            self.ctx.changed.notify_all()

    # --- control -----------------------------------------------------------------------------
    def start(self, adopt: ProcessRecord | ManagedProcess | None = None) -> None:
        """Begin supervising: adopt the given process if any, else start a new one."""
        self.wanted = True
        if self._runner is not None and not self._runner.done():
            return
        if isinstance(adopt, ProcessRecord):
            self.process = ManagedProcess.adopt(adopt, self.ctx.platform)
            self.restarts = adopt.restarts
        elif adopt is not None:
            self.process = adopt
        self._runner = asyncio.create_task(self._run(), name=f"service:{self.name}")

    async def stop(self, reason: str = "requested") -> None:
        """Stop supervising and stop the process group; no restart follows."""
        self.wanted = False
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None
        if self.process is not None:
            await self._set_state(ServiceState.STOPPING, reason)
            await self.process.stop(self.spec.stop_signal, self.spec.stop_timeout)
            self.ctx.events.write("stop", self.name, "success", reason, pid=self.process.pid)
            self._forget_process()
        if self.state is not ServiceState.STOPPED:
            await self._set_state(ServiceState.STOPPED, reason)

    def detach(self) -> None:
        """Stop supervising but leave the process running, to be adopted by the next orchestrator."""
        if self._runner is not None:
            self._runner.cancel()

    # --- the supervision loop ----------------------------------------------------------------
    async def _run(self) -> None:
        if self.process is not None:
            pid = self.process.pid
            self.ctx.events.write("adopt", self.name, "success", f"pid {pid}", pid=pid)
            if self.process.adopted:
                await self._save_record()  # its record may be the damaged or missing one
            await self._set_state(ServiceState.STARTING, f"adopted pid {pid}")
        while True:
            try:
                if not await self._cycle():
                    return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.problems.fault(exc)
                await self.ctx.sleep(_FAULT_PAUSE)

    async def _cycle(self) -> bool:
        """One run of the process: start it (unless one is held), watch it, deal with its end."""
        ended: Outcome | None = None
        if self.process is None:
            await self._wait_for_dependencies()
            ended = await self._spawn()
        if ended is None:
            ended = await self._supervise()
        return await self._after(ended)

    async def _spawn(self) -> Outcome | None:
        action = "restart" if self.restarts else "start"
        self.ctx.events.write(action, self.name, "attempting", " ".join(self.spec.argv))
        env = {**self.ctx.env_for(self.spec), **markers.service_env(self.ctx.root, self.name, self.hash)}
        try:
            self.process = self.ctx.spawner(
                self.spec.argv, self.spec.cwd, env, self.log_path, self.ctx.platform
            )
        except SpawnError as exc:
            self.ctx.events.write(action, self.name, "failed", str(exc))
            return Outcome(Ending.NO_START, str(exc))
        self.problems.note("log", self.process.log_problem)
        self.problems.note("supervisor", None)
        await self._save_record()
        # after a hang the service stays "restarting (hung)" until its new process passes its probe
        state = ServiceState.RESTARTING if self.reason else ServiceState.STARTING
        self.retry_at = None
        await self._set_state(state, f"pid {self.process.pid}", reason=self.reason)
        return None

    async def _save_record(self) -> None:
        assert self.process is not None
        record = self.process.record(self.name, self.hash, self.restarts)
        try:
            await asyncio.to_thread(record.save, self.record_path)  # fsyncs: off the event loop
        except OSError as exc:
            self.problems.note("record", f"process record {self.record_path}: {exc.strerror or exc}")
        else:
            self.problems.note("record", None)

    async def _supervise(self) -> Outcome:
        assert self.process is not None
        exit_wait = asyncio.create_task(self.process.wait())
        watch = asyncio.create_task(self._watch_health())
        try:
            done, _ = await asyncio.wait({exit_wait, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (exit_wait, watch):
                if not task.done():
                    task.cancel()
        if exit_wait in done:
            code = exit_wait.result()
            return Outcome(Ending.EXITED, outcome.describe_exit(code), code)
        return watch.result()

    async def _watch_health(self) -> Outcome:
        """Readiness first (poll fast until the probe passes), then liveness at the probe's interval."""
        assert self.process is not None
        process, spec = self.process, self.spec.probe
        deadline = self.ctx.clock.monotonic() + self.spec.ready_timeout
        pause = _FIRST_READY_POLL
        if (spec is None or spec.kind is ProbeKind.PROCESS) and process.uptime < _STARTSECS:
            await self.ctx.sleep(_STARTSECS - process.uptime)  # "alive" means: did not exit at once
        while not (result := await self._look(process)).ok:
            if self.ctx.clock.monotonic() > deadline:
                return Outcome(
                    Ending.NOT_READY, f"not ready after {self.spec.ready_timeout:g}s: {result.detail}"
                )
            self.detail = f"waiting for its probe: {result.detail}"
            await self.ctx.sleep(pause)
            pause = min(pause * 2, _MAX_READY_POLL, spec.interval if spec else _MAX_READY_POLL)
        await self._check_port_owner(process)
        action = "restart" if self.restarts else "start"
        self.ctx.events.write(action, self.name, "success", result.detail, pid=process.pid)
        self.blocked = None
        await self._set_state(ServiceState.RUNNING, result.detail)
        if spec is None or spec.kind is ProbeKind.PROCESS:
            return await _forever()  # the exit watch is the whole health check
        return await self._watch_liveness(process, spec)

    async def _check_port_owner(self, process: ManagedProcess) -> None:
        """A probe may pass because another process answers on the service's port. After a first start
        or quick exits, make sure the answer is ours; if not, the process must outlive `_SETTLE` (if it
        exits meanwhile, the exit watch ends this run and the exit is diagnosed)."""
        port = outcome.local_port(self.spec.probe)
        recent = self._last_uptime is None or self._last_uptime < self.spec.backoff.reset_after
        if port is None or not (recent or self.blocked):
            return
        holder = await asyncio.to_thread(outcome.foreign_listener, port, process.pid)
        if holder is not None:
            self.detail = f"its probe is answered by {holder}, not by this service"
            await self.ctx.sleep(_SETTLE)

    async def _watch_liveness(self, process: ManagedProcess, spec: ProbeSpec) -> Outcome:
        """Probe every `interval`; `failures` misses in a row mean the service is hung."""
        failures = 0
        while True:
            await self.ctx.sleep(max(spec.interval, _MIN_INTERVAL))  # a hand-edited plan.json cannot spin
            result = await self._look(process)
            if result.ok:
                if failures:
                    self.ctx.events.write("check", self.name, "ok", result.detail)
                failures = 0
                self.detail = result.detail
                continue
            failures += 1
            self.ctx.events.write("check", self.name, "down", result.detail, failures=failures)
            if failures >= spec.failures:
                return Outcome(Ending.HUNG, f"probe failed {failures} times: {result.detail}")
            self.detail = f"probe failing ({failures} of {spec.failures}): {result.detail}"

    async def _look(self, process: ManagedProcess) -> ProbeResult:
        try:
            result = await asyncio.wait_for(
                self.probe.check(process.pid, process.started_at), self.probe.timeout + 1.0
            )
        except TimeoutError:
            result = ProbeResult(False, "probe timed out")
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            # Python 3.11's wait_for can swallow a cancel that meets a finished probe: honour it here, or
            # a watch whose process already exited would go on to call the service running
            raise asyncio.CancelledError
        self.last_probe, self.last_probe_at = result, self.ctx.clock.time()
        return result

    async def _after(self, ended: Outcome) -> bool:
        """Deal with a process that ended or must end; True to go round again (restart)."""
        process = self.process
        uptime = process.uptime if process else 0.0
        if process is not None and ended.ending is not Ending.EXITED:
            await self._set_state(ServiceState.RESTARTING, ended.detail, reason=ended.ending.value)
            self.ctx.events.write("restart", self.name, "attempting", ended.detail, reason=ended.ending.value)
            await process.stop(self.spec.stop_signal, self.spec.stop_timeout)
        port = outcome.local_port(self.spec.probe)
        quick = uptime < max(self.spec.backoff.reset_after, _SETTLE + 1.0)
        if port is not None and quick and not (ended.exit_code is not None and ended.exit_code < 0):
            ended = await asyncio.to_thread(outcome.diagnose, ended, port)  # not for a signal death
        if ended.exit_code:  # a failure exit (not a signal): what the process said last
            ended = await asyncio.to_thread(outcome.with_last_words, ended, self.log_path)
        self.blocked = ended.blocked
        self.last_exit = ended.exit_code
        self._last_uptime = uptime
        self._forget_process()
        if not self._should_restart(ended):
            await self._set_state(ServiceState.EXITED, ended.detail)
            return False
        reason = None if ended.ending in (Ending.EXITED, Ending.NO_START) else ended.ending.value
        decision = self.backoff.record_failure(uptime)
        self.retry_at = self.ctx.clock.time() + decision.delay
        if decision.fatal:
            detail = f"{ended.detail}; {decision.streak} failures in a row"
            await self._set_state(ServiceState.FATAL, detail, reason=reason)
            self.ctx.events.write(
                "restart", self.name, "failed", "crash loop: cooling down", cooldown=decision.delay
            )
        else:
            # a hung or never-ready service stays "restarting (<why>)" until its new process starts
            waiting = ServiceState.RESTARTING if reason else ServiceState.BACKOFF
            await self._set_state(waiting, ended.detail, reason=reason)
        if decision.delay > 0:
            await self.ctx.sleep(decision.delay)
        self.restarts += 1
        return True

    def _should_restart(self, ended: Outcome) -> bool:
        policy = self.spec.restart
        if policy is RestartPolicy.NEVER:
            return False
        if policy is RestartPolicy.ON_FAILURE:
            return not (ended.ending is Ending.EXITED and ended.exit_code == 0)
        return True

    async def _wait_for_dependencies(self) -> None:
        def missing() -> list[str]:
            return [d for d in self.spec.after if not _running(self.ctx.lookup(d))]

        if not missing():
            return
        if self.state is not ServiceState.WAITING:
            await self._set_state(ServiceState.WAITING, "waiting for " + ", ".join(missing()))
        async with self.ctx.changed:
            await self.ctx.changed.wait_for(lambda: not missing())

    def _forget_process(self) -> None:
        if self.process is not None:
            try:
                records.remove(self.record_path)
            except OSError as exc:
                self.problems.note("record", f"process record {self.record_path}: {exc.strerror or exc}")
        self.process = None

    # --- what status shows -------------------------------------------------------------------
    @property
    def log_path(self) -> Path:
        return self.ctx.logs_dir / f"{self.name}.log"

    def snapshot(self) -> dict[str, Any]:
        return self.status().to_dict()

    def status(self) -> ServiceStatus:
        process = self.process
        probe = self.last_probe
        return ServiceStatus(
            name=self.name,
            state=self.state,
            pid=process.pid if process else None,
            uptime=process.uptime if process and self.state.is_up else None,
            restarts=self.restarts,
            since=self.since,
            detail=self.detail,
            last_probe=None if probe is None else ProbeStatus(probe.ok, probe.detail, self.last_probe_at),
            last_exit=self.last_exit,
            adopted=bool(process and process.adopted),
            core=self.spec.core,
            after=list(self.spec.after),
            wanted=self.wanted,
            reason=self.reason,
            retry_at=self.retry_at if self.state in _WAITING_TO_RETRY else None,
            blocked=self.blocked,
            problems=self.problems.listed(),
        )


async def _forever() -> NoReturn:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


def _running(service: Service | None) -> bool:
    return service is not None and service.state is ServiceState.RUNNING
