"""The Master Orchestrator: one per workspace. Starts services in dependency order, adopts what is
already running, restarts what dies or hangs, answers the control channel, stops in reverse order."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from autonomic import platform as platforms
from autonomic.clock import Clock, SystemClock
from autonomic.eventlog import EventLog
from autonomic.platform import Platform
from autonomic.supervisor import adoption, logfile, markers
from autonomic.supervisor import record as records
from autonomic.supervisor.control import ControlServer
from autonomic.supervisor.jobs import Jobs, JobSpec
from autonomic.supervisor.protocol import Command, ErrorCode, RequestError
from autonomic.supervisor.reaper import OrphanReaper
from autonomic.supervisor.service import Context, Service, spec_hash
from autonomic.supervisor.spec import Plan, ServiceSpec
from autonomic.supervisor.state import ServiceState
from autonomic.workspace import Workspace

_HOUSEKEEPING_EVERY = 5.0


class Orchestrator:
    def __init__(
        self,
        workspace: Workspace,
        plan: Plan,
        platform: Platform | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.workspace = workspace
        self.plan = plan
        self.platform = platform or platforms.current()
        self.clock = clock or SystemClock()
        self.events = EventLog(workspace.orchestrator_log)
        self.services: dict[str, Service] = {}
        self.started_at = self.clock.time()
        self.problems: dict[str, str] = {}
        self._done = asyncio.Event()
        self._leave_running = False
        self._reaper = OrphanReaper(lambda: {s.process.pid for s in self.services.values() if s.process})
        self._dotenv_cache: tuple[int, dict[str, str]] | None = None
        self._changed = asyncio.Condition()
        self._applying = asyncio.Lock()
        self._control = ControlServer(workspace.control_file, self._handle, self._control_failed)
        self.jobs = Jobs(plan.jobs, self.events, workspace.logs, str(workspace.root), self._job_env)
        self._preparing = True  # the `before` jobs (the upgrade check) run before any service starts

    # --- lifecycle -----------------------------------------------------------------------------
    async def run(self) -> None:
        """Run until asked to shut down (control channel, SIGTERM or SIGINT)."""
        subreaper = self.platform.become_subreaper()
        self._install_signal_handlers()
        await self._control.start()
        self.events.write(
            "start",
            "orchestrator",
            "running",
            f"pid {os.getpid()}",
            pid=os.getpid(),
            subreaper=subreaper,
            services=[s.name for s in self.plan.services],
        )
        housekeeping = asyncio.create_task(self._housekeeping())
        try:
            if await self.jobs.before(self._done):
                self._preparing = False
                await self.apply(self.plan)
                self.jobs.after(self._all_running, _patience(self.plan))
            await self._done.wait()
        finally:
            housekeeping.cancel()
            await self.jobs.close()
            if self._leave_running:
                for service in self.services.values():
                    service.detach()
            else:
                await self._stop_all("orchestrator shutting down")
            await self._control.close()
            self.events.write(
                "stop",
                "orchestrator",
                "success",
                "left services running" if self._leave_running else "all services stopped",
            )

    def shutdown(self, leave_running: bool = False) -> None:
        self._leave_running = leave_running
        self._done.set()

    async def apply(self, plan: Plan) -> None:
        """Make the running set match `plan`: stop what left it, restart what changed, start what is new,
        adopting any recorded process that is still ours and unchanged. While the `before` jobs run, the
        plan is only kept: it is applied once they are done (an upgrade may still be installing)."""
        if self._preparing:
            self.plan = plan
            return
        async with self._applying:
            await self._apply(plan)

    async def _apply(self, plan: Plan) -> None:
        self.plan = plan
        self.jobs.replace(plan.jobs)
        wanted = {spec.name: spec for spec in plan.services}
        for name in [
            n for n in self.services if n not in wanted or self.services[n].hash != spec_hash(wanted[n])
        ]:
            await self.services.pop(name).stop(
                "removed from the config" if name not in wanted else "config changed"
            )
        found = await adoption.survey(self.workspace.records_dir, self.workspace.root)
        busy = {s.process.pid for s in self.services.values() if s.process is not None}
        await self._stop_strays(found, set(wanted), busy)
        for spec in _by_depth(plan.services):
            if spec.name in self.services:
                continue
            service = Service(spec, self._context())
            self.services[spec.name] = service
            placement = adoption.place(spec.name, service.hash, found, self.platform, busy)
            for note in placement.notes:
                self.events.write("adopt", spec.name, "found", note)
            if spec.name in found.damaged:
                self.problems[f"record:{spec.name}"] = "; ".join(placement.notes)
            for copy in placement.stop:
                await copy.stop(spec.stop_signal, spec.stop_timeout)
            if placement.adopt is None:
                self._remove_record(spec.name)
            if spec.autostart or placement.adopt is not None:
                service.start(placement.adopt)

    async def _stop_strays(self, found: adoption.Survey, wanted: set[str], busy: set[int]) -> None:
        """Processes (recorded or marked) of services no longer in the config are stopped, not orphaned."""
        for name, copies in adoption.strays(found, wanted, self.platform, busy).items():
            for copy in copies:
                self.events.write("stop", name, "attempting", f"pid {copy.pid}: no longer in the config")
                await copy.stop("SIGTERM", 10.0)
            if name not in wanted:
                self._remove_record(name)

    def _remove_record(self, name: str) -> None:
        try:
            records.remove(self.workspace.record_file(name))
        except OSError as exc:
            self.events.write("record", name, "failed", f"cannot remove its record: {exc.strerror or exc}")

    async def _stop_all(self, reason: str) -> list[str]:
        """Stop in reverse dependency order: dependents first, each depth level concurrently. Returns the
        services that had a process, in the order they stopped."""
        levels: dict[int, list[Service]] = {}
        depths = _depths([s.spec for s in self.services.values()])
        for service in self.services.values():
            levels.setdefault(depths[service.name], []).append(service)
        stopped: list[str] = []

        async def stop(service: Service) -> None:
            had_process = service.process is not None
            await service.stop(reason)
            if had_process:
                stopped.append(service.name)

        for depth in sorted(levels, reverse=True):
            await asyncio.gather(*(stop(service) for service in levels[depth]))
        return stopped

    def _context(self) -> Context:
        return Context(
            platform=self.platform,
            events=self.events,
            records_dir=self.workspace.records_dir,
            logs_dir=self.workspace.logs,
            env_for=self._env_for,
            changed=self._changed,
            lookup=self.services.get,
            root=self.workspace.root,
            clock=self.clock,
        )

    def _env_for(self, spec: ServiceSpec) -> dict[str, str]:
        """The orchestrator's environment, then .env (re-read at every start), then the service's own."""
        env = dict(os.environ)
        env.pop(markers.ORCHESTRATOR_MARK, None)
        env.update(self._dotenv())
        env.update(spec.env)
        env["AUTONOMIC_WORKSPACE"] = str(self.workspace.root)
        env["AUTONOMIC_SERVICE"] = spec.name
        venv_bin = self.workspace.root / ".venv" / ("Scripts" if sys.platform == "win32" else "bin")
        if venv_bin.is_dir():
            env["PATH"] = os.pathsep.join([str(venv_bin), env.get("PATH", "")])
        return env

    def _job_env(self, job: JobSpec) -> dict[str, str]:
        spec = ServiceSpec(name=f"job-{job.name}", argv=job.argv, cwd=self.plan.root, env=job.env)
        return self._env_for(spec)

    async def _all_running(self) -> bool:
        """Returns once every autostart service is running (the moment the `after` jobs may start)."""
        async with self._changed:
            await self._changed.wait_for(
                lambda: all(
                    s.state is ServiceState.RUNNING for s in self.services.values() if s.spec.autostart
                )
            )
        return True

    def _dotenv(self) -> dict[str, str]:
        """The .env values, parsed again only when the file changed (a restart should not wait on it)."""
        try:
            stamp = self.workspace.env_file.stat().st_mtime_ns
            if self._dotenv_cache is None or self._dotenv_cache[0] != stamp:
                values = dotenv_values(self.workspace.env_file)
                self._dotenv_cache = (stamp, {k: v for k, v in values.items() if v is not None})
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:  # unreadable: services start without it, and it is said
            problem = f"{self.workspace.env_file}: {getattr(exc, 'strerror', None) or exc}; not loaded"
            if self.problems.get("dotenv") != problem:
                self.events.write("dotenv", "orchestrator", "failed", problem)
            self.problems["dotenv"] = problem
            return {}
        self.problems.pop("dotenv", None)
        return self._dotenv_cache[1]

    # --- control channel ----------------------------------------------------------------------
    async def _handle(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            command = Command(str(request.get("command")))
        except ValueError:
            raise RequestError(f"unknown command {request.get('command')!r}", ErrorCode.BAD_REQUEST) from None
        if command is Command.PING:
            return {"ok": True, "pid": os.getpid()}
        if command is Command.STATUS:
            return {"ok": True, **self.status()}
        if command is Command.RELOAD:
            await self.apply(_read_plan(self.workspace.plan_file))
            return {"ok": True, **self.status()}
        if command.names_a_service:
            return await self._service_command(command, str(request.get("service", "")))
        leave_running = bool(request.get("leave_running"))
        stopped = [] if leave_running else await self._stop_all("shutdown requested")
        self.shutdown(leave_running=leave_running)
        return {"ok": True, "stopped": stopped}

    async def _service_command(self, command: Command, name: str) -> dict[str, Any]:
        service = self.services.get(name)
        if service is None:
            known = ", ".join(self.services) or "none"
            raise RequestError(f"no service named {name!r} (known: {known})", ErrorCode.UNKNOWN_SERVICE)
        if command in (Command.STOP, Command.RESTART):
            await service.stop(f"{command.value} requested")
        if command in (Command.START, Command.RESTART):
            service.start()
        return {"ok": True, "service": service.snapshot()}

    def _control_failed(self, what: str, exc: BaseException) -> None:
        self.events.write("control", what, "failed", f"{type(exc).__name__}: {exc}")

    def status(self) -> dict[str, Any]:
        problems = [*self.problems.values()]
        if self.events.problem:
            problems.append(self.events.problem)
        return {
            "orchestrator": {
                "pid": os.getpid(),
                "started_at": self.started_at,
                "uptime": self.clock.time() - self.started_at,
                "root": str(self.workspace.root),
                "problems": problems,
                "preparing": self._preparing,
            },
            "services": [
                self.services[s.name].snapshot() for s in self.plan.services if s.name in self.services
            ],
        }

    # --- signals and housekeeping -----------------------------------------------------------
    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        handlers: dict[str, Callable[[], object]] = {
            "SIGTERM": self.shutdown,
            "SIGINT": self.shutdown,
            "SIGHUP": lambda: asyncio.ensure_future(self._reload_from_file()),
            "SIGUSR1": self._republish,
            "SIGCHLD": self._reaper.schedule,
        }
        for name, handler in handlers.items():
            with contextlib.suppress(NotImplementedError, AttributeError, ValueError):
                loop.add_signal_handler(getattr(signal, name), handler)

    async def _reload_from_file(self) -> None:
        try:
            await self.apply(_read_plan(self.workspace.plan_file))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.events.write("reload", "orchestrator", "failed", f"{self.workspace.plan_file}: {exc}")

    def _republish(self) -> None:
        """Write the control file again (it was deleted or damaged, or a client asked with SIGUSR1)."""
        try:
            self._control.publish()
        except OSError as exc:
            problem = f"control file {self.workspace.control_file}: {exc.strerror or exc}"
            if self.problems.get("control") != problem:
                self.events.write("control", "orchestrator", "failed", problem)
            self.problems["control"] = problem
        else:
            if self.problems.pop("control", None):
                self.events.write("control", "orchestrator", "recovered", "control file written again")

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(_HOUSEKEEPING_EVERY)
            try:
                self._tidy()
            except Exception as exc:  # said, and tried again next round: never a silent stop
                self.events.write("housekeeping", "orchestrator", "failed", f"{type(exc).__name__}: {exc}")

    def _tidy(self) -> None:
        """Rotate logs, reap orphans, republish a deleted or damaged control file."""
        for name in self.services:
            try:
                logfile.rotate_if_needed(
                    self.workspace.service_log(name), self.plan.log_max_bytes, self.plan.log_keep
                )
            except OSError as exc:
                self._note_rotation(name, exc)
            else:
                self.problems.pop(f"rotate:{name}", None)
        self._reaper.reap({s.process.pid for s in self.services.values() if s.process is not None})
        if not self._control.published():
            self._republish()

    def _note_rotation(self, name: str, exc: OSError) -> None:
        problem = f"log rotation of {name}: {exc.strerror or exc}"
        if self.problems.get(f"rotate:{name}") != problem:
            self.events.write("rotate", name, "failed", problem)
        self.problems[f"rotate:{name}"] = problem


def _patience(plan: Plan) -> float:
    """How long the `after` jobs wait for the services before running anyway."""
    return max((s.ready_timeout for s in plan.services if s.autostart), default=0.0) + 5.0


def _read_plan(path: Path) -> Plan:
    return Plan.from_dict(json.loads(path.read_text(encoding="utf-8")))


def _depths(specs: list[ServiceSpec]) -> dict[str, int]:
    after = {s.name: [d for d in s.after] for s in specs}
    depths: dict[str, int] = {}

    def depth(name: str, trail: frozenset[str] = frozenset()) -> int:
        if name not in depths:
            deps = [d for d in after.get(name, []) if d in after and d not in trail]
            depths[name] = 1 + max((depth(d, trail | {name}) for d in deps), default=-1)
        return depths[name]

    for spec in specs:
        depth(spec.name)
    return depths


def _by_depth(specs: list[ServiceSpec]) -> list[ServiceSpec]:
    depths = _depths(specs)
    return sorted(specs, key=lambda s: depths[s.name])
