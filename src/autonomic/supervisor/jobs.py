"""Jobs: one-shot or periodic commands the orchestrator runs itself (the upgrade check at start, an
overdue backup, the post-boot health verification with auto-fix).

`before` jobs run to completion, one after another and each bounded by its timeout, before any service
starts; `after` jobs start once every autostart service is running (or once the services had their
time to get there). A job with `every` runs again that long after each run ends, so it never overlaps
itself. Each run is an event in the orchestrator log (`job` / name / success|failure, with its exit code
and duration); its output goes to `logs/job-<name>.log`.

Only the standard library here: the orchestrator stays lean.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from autonomic import platform
from autonomic.eventlog import EventLog

_OUTPUT_HEADER = "===== {stamp} job {name}: {argv}\n"


class JobPhase(StrEnum):
    BEFORE = "before"
    AFTER = "after"


@dataclass(frozen=True)
class JobSpec:
    """A command the orchestrator runs. `delay` waits before the first run; `every` (seconds) repeats it
    after each run ends; `timeout` bounds each run (the job's whole process group is killed then)."""

    name: str
    argv: list[str]
    phase: JobPhase = JobPhase.AFTER
    delay: float = 0.0
    every: float | None = None
    timeout: float = 300.0
    cwd: str = ""
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.argv:
            raise ValueError(f"job {self.name!r}: empty command")
        if self.timeout <= 0 or (self.every is not None and self.every <= 0) or self.delay < 0:
            raise ValueError(f"job {self.name!r}: timeout and every must be > 0, delay >= 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> JobSpec:
        return cls(**{**raw, "phase": JobPhase(raw.get("phase", "after"))})


@dataclass(frozen=True)
class JobRun:
    name: str
    code: int | None  # None: it could not start, or was killed at its timeout
    seconds: float
    detail: str

    @property
    def ok(self) -> bool:
        return self.code == 0


EnvFor = Callable[[JobSpec], dict[str, str]]


class Jobs:
    """Runs a plan's jobs for one orchestrator."""

    def __init__(
        self, specs: list[JobSpec], events: EventLog, logs_dir: Path, root: str, env_for: EnvFor
    ) -> None:
        self.specs = list(specs)
        self.events = events
        self.logs_dir = logs_dir
        self.root = root
        self.env_for = env_for
        self._locks: dict[str, asyncio.Lock] = {}
        self._loops: dict[str, tuple[JobSpec, asyncio.Task[None]]] = {}
        self.last: dict[str, JobRun] = {}
        self._started = False
        self._after: asyncio.Task[None] | None = None

    # --- phases ----------------------------------------------------------------------------------
    async def before(self, done: asyncio.Event) -> bool:
        """Run the `before` jobs; False when a shutdown came first (the services must not start then)."""
        before = asyncio.create_task(self.run_before())
        stop = asyncio.create_task(done.wait())
        await asyncio.wait({before, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not before.done():
            before.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await before
            return False
        return True

    def after(self, ready: Callable[[], Awaitable[bool]], patience: float) -> None:
        """Once the services are up (or had `patience` seconds), the `after` jobs; returns at once."""
        self._started = True
        self._after = asyncio.create_task(self.after_ready(ready, patience), name="jobs-after")

    async def run_before(self) -> None:
        """Every `before` job once, in order, each bounded; then their periodic repeats in the background."""
        for spec in self._phase(JobPhase.BEFORE):
            if spec.delay:
                await asyncio.sleep(spec.delay)
            await self.run_once(spec)
            if spec.every is not None:
                self._loop(spec, first_wait=spec.every)

    def start_after(self) -> None:
        """Schedule every `after` job (its delay, its first run, its repeats) without waiting for them."""
        for spec in self._phase(JobPhase.AFTER):
            self._loop(spec, first_wait=spec.delay)

    async def after_ready(self, ready: Callable[[], Awaitable[bool]], patience: float) -> None:
        """Start the `after` jobs once `ready()` says every autostart service runs, or after `patience`
        seconds in any case (the after jobs include the health fix that may be what they need)."""
        if not self._phase(JobPhase.AFTER):
            return
        waited = True
        try:
            await asyncio.wait_for(ready(), timeout=patience)
        except TimeoutError:
            waited = False
        self.events.write(
            "jobs",
            "after",
            "running" if waited else "degraded",
            "all autostart services are running"
            if waited
            else f"services not all running after {patience:g}s; running the after jobs anyway",
        )
        self.start_after()

    def replace(self, specs: list[JobSpec]) -> None:
        """A reloaded plan: periodic jobs that left or changed stop repeating, new or changed periodic ones
        are scheduled (one-shot jobs belong to the start and are not run again)."""
        if not self._started:
            return
        self.specs = list(specs)
        wanted = {s.name: s for s in specs if s.every is not None}
        for name, (spec, task) in list(self._loops.items()):
            if spec.every is not None and wanted.get(name) != spec:  # a one-shot run ends by itself
                task.cancel()
                del self._loops[name]
        for name, spec in wanted.items():
            if name not in self._loops:
                self._loop(spec, first_wait=spec.every or 0.0)

    async def close(self) -> None:
        tasks = [task for _, task in self._loops.values()]
        if self._after is not None:
            tasks.append(self._after)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._loops.clear()

    # --- one run ---------------------------------------------------------------------------------
    async def run_once(self, spec: JobSpec) -> JobRun:
        """Run `spec` now unless a run of it is in progress (then wait for that one and return it)."""
        lock = self._locks.setdefault(spec.name, asyncio.Lock())
        if lock.locked():
            async with lock:
                return self.last[spec.name]
        async with lock:
            self.events.write("job", spec.name, "attempting", " ".join(spec.argv), phase=spec.phase.value)
            result = await self._execute(spec)
            self.last[spec.name] = result
            self.events.write(
                "job",
                spec.name,
                "success" if result.ok else "failure",
                result.detail,
                phase=spec.phase.value,
                exit_code=result.code,
                duration=round(result.seconds, 3),
                log=str(self.log_path(spec.name)),
            )
            return result

    def log_path(self, name: str) -> Path:
        return self.logs_dir / f"job-{name}.log"

    async def _execute(self, spec: JobSpec) -> JobRun:
        started = time.monotonic()
        path = self.log_path(spec.name)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            log = open(path, "ab")  # noqa: SIM115 - handed to the child, closed below
        except OSError as exc:
            return JobRun(spec.name, None, 0.0, f"cannot open {path}: {exc}")
        try:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            log.write(_OUTPUT_HEADER.format(stamp=stamp, name=spec.name, argv=" ".join(spec.argv)).encode())
            log.flush()
            try:
                process = await asyncio.create_subprocess_exec(
                    *spec.argv,
                    cwd=spec.cwd or self.root,
                    env=self.env_for(spec),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    **platform.current().detached_popen_kwargs(),
                )
            except OSError as exc:
                return JobRun(spec.name, None, time.monotonic() - started, f"cannot start: {exc}")
            try:
                code = await asyncio.wait_for(process.wait(), timeout=spec.timeout)
            except TimeoutError:
                platform.current().kill_group(process.pid)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(process.wait(), timeout=5.0)
                return JobRun(
                    spec.name,
                    None,
                    time.monotonic() - started,
                    f"killed after its timeout of {spec.timeout:g}s",
                )
            except asyncio.CancelledError:
                platform.current().kill_group(process.pid)
                raise
        finally:
            log.close()
        seconds = time.monotonic() - started
        return JobRun(spec.name, code, seconds, f"exit code {code} after {seconds:.1f}s")

    # --- scheduling ------------------------------------------------------------------------------
    def _phase(self, phase: JobPhase) -> list[JobSpec]:
        return [s for s in self.specs if s.phase is phase]

    def _loop(self, spec: JobSpec, first_wait: float) -> None:
        async def repeat() -> None:
            wait = first_wait
            while True:
                if wait:
                    await asyncio.sleep(wait)
                await self.run_once(spec)
                if spec.every is None:
                    return
                wait = spec.every

        old = self._loops.pop(spec.name, None)
        if old is not None:
            old[1].cancel()
        self._loops[spec.name] = (spec, asyncio.create_task(repeat(), name=f"job-{spec.name}"))
