"""A supervised service: its state machine, and the loop that keeps its process alive and healthy."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, NoReturn

from autonomic import probes
from autonomic.eventlog import EventLog
from autonomic.platform import Platform
from autonomic.probes.base import ProbeResult
from autonomic.supervisor import record as records
from autonomic.supervisor.backoff import Backoff
from autonomic.supervisor.process import ManagedProcess, SpawnError
from autonomic.supervisor.record import ProcessRecord
from autonomic.supervisor.spec import ProbeKind, ProbeSpec, RestartPolicy, ServiceSpec
from autonomic.supervisor.state import ServiceState, check_transition

_FIRST_READY_POLL = 0.02
_MAX_READY_POLL = 0.5


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


class Ending(StrEnum):
    EXITED = "exited"  # the process ended by itself
    HUNG = "hung"  # the probe failed `failures` times in a row
    NOT_READY = "not-ready"  # the probe never passed within `ready_timeout`
    NO_START = "no-start"  # the command could not be started


@dataclass(frozen=True)
class Outcome:
    ending: Ending
    detail: str
    exit_code: int | None = None


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
        self.since = time.time()
        self.detail = ""
        self.process: ManagedProcess | None = None
        self.backoff = Backoff(spec.backoff)
        self.probe = probes.build(spec.probe)
        self.restarts = 0
        self.last_probe: ProbeResult | None = None
        self.last_probe_at: float | None = None
        self.last_exit: int | None = None
        self._runner: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def record_path(self) -> Path:
        return self.ctx.records_dir / f"{self.name}.json"

    # --- the one place state changes -----------------------------------------------------
    async def _set_state(self, new: ServiceState, detail: str = "") -> None:
        check_transition(self.state, new)
        old, self.state, self.since, self.detail = self.state, new, time.time(), detail
        self.ctx.events.write(
            "state",
            self.name,
            new.value,
            detail,
            previous=old.value,
            pid=self.process.pid if self.process else None,
        )
        async with self.ctx.changed:
            self.ctx.changed.notify_all()

    # --- control -----------------------------------------------------------------------------
    def start(self, adopt: ProcessRecord | None = None) -> None:
        """Begin supervising: adopt the recorded process if given, else start a new one."""
        if self._runner is not None and not self._runner.done():
            return
        if adopt is not None:
            self.process = ManagedProcess.adopt(adopt, self.ctx.platform)
            self.restarts = adopt.restarts
        self._runner = asyncio.create_task(self._run(), name=f"service:{self.name}")

    async def stop(self, reason: str = "requested") -> None:
        """Stop supervising and stop the process group; no restart follows."""
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
            self.ctx.events.write(
                "adopt", self.name, "success", f"pid {self.process.pid}", pid=self.process.pid
            )
            await self._set_state(ServiceState.STARTING, f"adopted pid {self.process.pid}")
        while True:
            if self.process is None:
                await self._wait_for_dependencies()
                outcome = await self._spawn()
            else:
                outcome = None
            if outcome is None:
                outcome = await self._supervise()
            if not await self._after(outcome):
                return

    async def _spawn(self) -> Outcome | None:
        action = "restart" if self.restarts else "start"
        self.ctx.events.write(action, self.name, "attempting", " ".join(self.spec.argv))
        try:
            self.process = ManagedProcess.spawn(
                self.spec.argv,
                self.spec.cwd,
                self.ctx.env_for(self.spec),
                self.ctx.logs_dir / f"{self.name}.log",
                self.ctx.platform,
            )
        except SpawnError as exc:
            self.ctx.events.write(action, self.name, "failed", str(exc))
            return Outcome(Ending.NO_START, str(exc))
        record = self.process.record(self.name, self.hash, self.restarts)
        await asyncio.to_thread(record.save, self.record_path)  # fsyncs: off the event loop
        await self._set_state(ServiceState.STARTING, f"pid {self.process.pid}")
        return None

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
            return Outcome(Ending.EXITED, _describe_exit(code), code)
        return watch.result()

    async def _watch_health(self) -> Outcome:
        """Readiness first (poll fast until the probe passes), then liveness at the probe's interval."""
        assert self.process is not None
        process, spec = self.process, self.spec.probe
        deadline = time.monotonic() + self.spec.ready_timeout
        pause = _FIRST_READY_POLL
        while not (result := await self._look(process)).ok:
            if time.monotonic() > deadline:
                return Outcome(
                    Ending.NOT_READY, f"not ready after {self.spec.ready_timeout:g}s: {result.detail}"
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, _MAX_READY_POLL, spec.interval if spec else _MAX_READY_POLL)
        action = "restart" if self.restarts else "start"
        self.ctx.events.write(action, self.name, "success", result.detail, pid=process.pid)
        await self._set_state(ServiceState.RUNNING, result.detail)
        if spec is None or spec.kind is ProbeKind.PROCESS:
            return await _forever()  # the exit watch is the whole health check
        return await self._watch_liveness(process, spec)

    async def _watch_liveness(self, process: ManagedProcess, spec: ProbeSpec) -> Outcome:
        """Probe every `interval`; `failures` misses in a row mean the service is hung."""
        failures = 0
        while True:
            await asyncio.sleep(spec.interval)
            result = await self._look(process)
            if result.ok:
                if failures:
                    self.ctx.events.write("check", self.name, "ok", result.detail)
                failures = 0
                continue
            failures += 1
            self.ctx.events.write("check", self.name, "down", result.detail, failures=failures)
            if failures >= spec.failures:
                return Outcome(Ending.HUNG, f"probe failed {failures} times: {result.detail}")

    async def _look(self, process: ManagedProcess) -> ProbeResult:
        try:
            result = await asyncio.wait_for(
                self.probe.check(process.pid, process.started_at), self.probe.timeout + 1.0
            )
        except TimeoutError:
            result = ProbeResult(False, "probe timed out")
        self.last_probe, self.last_probe_at = result, time.time()
        return result

    async def _after(self, outcome: Outcome) -> bool:
        """Deal with a process that ended or must end; True to go round again (restart)."""
        uptime = self.process.uptime if self.process else 0.0
        if self.process is not None and outcome.ending is not Ending.EXITED:
            self.ctx.events.write(
                "restart", self.name, "attempting", outcome.detail, reason=outcome.ending.value
            )
            await self.process.stop(self.spec.stop_signal, self.spec.stop_timeout)
        self.last_exit = outcome.exit_code
        self._forget_process()
        if not self._should_restart(outcome):
            await self._set_state(ServiceState.EXITED, outcome.detail)
            return False
        decision = self.backoff.record_failure(uptime)
        if decision.fatal:
            await self._set_state(
                ServiceState.FATAL,
                f"{outcome.detail}; {decision.streak} failures in a row, trying again in {decision.delay:g}s",
            )
            self.ctx.events.write(
                "restart", self.name, "failed", "crash loop: cooling down", cooldown=decision.delay
            )
            await asyncio.sleep(decision.delay)
        elif decision.delay > 0:
            await self._set_state(ServiceState.BACKOFF, f"{outcome.detail}; restart in {decision.delay:.2f}s")
            await asyncio.sleep(decision.delay)
        else:
            await self._set_state(ServiceState.BACKOFF, f"{outcome.detail}; restarting now")
        self.restarts += 1
        return True

    def _should_restart(self, outcome: Outcome) -> bool:
        policy = self.spec.restart
        if policy is RestartPolicy.NEVER:
            return False
        if policy is RestartPolicy.ON_FAILURE:
            return not (outcome.ending is Ending.EXITED and outcome.exit_code == 0)
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
            records.remove(self.record_path)
        self.process = None

    # --- what status shows -------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        process = self.process
        return {
            "name": self.name,
            "state": self.state.value,
            "pid": process.pid if process else None,
            "uptime": process.uptime if process and self.state.is_up else None,
            "restarts": self.restarts,
            "since": self.since,
            "detail": self.detail,
            "last_probe": None
            if self.last_probe is None
            else {
                "ok": self.last_probe.ok,
                "detail": self.last_probe.detail,
                "at": self.last_probe_at,
            },
            "last_exit": self.last_exit,
            "adopted": bool(process and process.adopted),
            "core": self.spec.core,
            "after": list(self.spec.after),
        }


async def _forever() -> NoReturn:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


def _running(service: Service | None) -> bool:
    return service is not None and service.state is ServiceState.RUNNING


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "exited"
    if code < 0:
        return f"killed by signal {-code}"
    return f"exited with code {code}"
