"""The Master Orchestrator: one per workspace. Starts services in dependency order, adopts what is
already running, restarts what dies or hangs, answers the control channel, stops in reverse order."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import psutil
from dotenv import dotenv_values

from autonomic import platform as platforms
from autonomic.errors import ControlError
from autonomic.eventlog import EventLog
from autonomic.platform import Platform
from autonomic.supervisor import logfile
from autonomic.supervisor import record as records
from autonomic.supervisor.control import ControlServer
from autonomic.supervisor.process import ManagedProcess
from autonomic.supervisor.service import Context, Service, spec_hash
from autonomic.supervisor.spec import Plan, ServiceSpec
from autonomic.workspace import Workspace

_HOUSEKEEPING_EVERY = 5.0
_ORPHAN_GRACE = 2.0


class Orchestrator:
    def __init__(self, workspace: Workspace, plan: Plan, platform: Platform | None = None) -> None:
        self.workspace = workspace
        self.plan = plan
        self.platform = platform or platforms.current()
        self.events = EventLog(workspace.orchestrator_log)
        self.services: dict[str, Service] = {}
        self.started_at = time.time()
        self._done = asyncio.Event()
        self._leave_running = False
        self._zombies_seen: dict[int, float] = {}
        self._reap_pending: asyncio.TimerHandle | None = None
        self._dotenv_cache: tuple[int, dict[str, str]] | None = None
        self._changed = asyncio.Condition()
        self._applying = asyncio.Lock()
        self._control = ControlServer(workspace.control_file, self._handle)

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
            await self.apply(self.plan)
            await self._done.wait()
        finally:
            housekeeping.cancel()
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
        adopting any recorded process that is still ours and unchanged."""
        async with self._applying:
            await self._apply(plan)

    async def _apply(self, plan: Plan) -> None:
        self.plan = plan
        wanted = {spec.name: spec for spec in plan.services}
        for name in [
            n for n in self.services if n not in wanted or self.services[n].hash != spec_hash(wanted[n])
        ]:
            await self.services.pop(name).stop(
                "removed from the config" if name not in wanted else "config changed"
            )
        on_disk = records.load_all(self.workspace.records_dir)
        await self._clean_foreign_records(on_disk, wanted)
        for spec in _by_depth(plan.services):
            if spec.name in self.services:
                continue
            service = Service(spec, self._context())
            self.services[spec.name] = service
            adopt = await self._adoptable(on_disk.get(spec.name), service)
            if spec.autostart or adopt is not None:
                service.start(adopt)

    async def _adoptable(
        self, rec: records.ProcessRecord | None, service: Service
    ) -> records.ProcessRecord | None:
        if rec is None:
            return None
        if not rec.is_live():
            self.events.write("adopt", service.name, "stale", f"pid {rec.pid} is gone; record removed")
            records.remove(service.record_path)
            return None
        if rec.spec_hash != service.hash:
            self.events.write("adopt", service.name, "replaced", f"pid {rec.pid} runs an older config")
            await ManagedProcess.adopt(rec, self.platform).stop(
                service.spec.stop_signal, service.spec.stop_timeout
            )
            records.remove(service.record_path)
            return None
        return rec

    async def _clean_foreign_records(
        self, on_disk: dict[str, records.ProcessRecord], wanted: dict[str, ServiceSpec]
    ) -> None:
        """A recorded process of a service no longer in the config is stopped, not left orphaned."""
        for name, rec in on_disk.items():
            if name in wanted or name in self.services:
                continue
            if rec.is_live():
                self.events.write("stop", name, "attempting", f"pid {rec.pid}: no longer in the config")
                await ManagedProcess.adopt(rec, self.platform).stop("SIGTERM", 10.0)
            records.remove(self.workspace.record_file(name))

    async def _stop_all(self, reason: str) -> None:
        """Stop in reverse dependency order: dependents first, each depth level concurrently."""
        levels: dict[int, list[Service]] = {}
        depths = _depths([s.spec for s in self.services.values()])
        for service in self.services.values():
            levels.setdefault(depths[service.name], []).append(service)
        for depth in sorted(levels, reverse=True):
            await asyncio.gather(*(service.stop(reason) for service in levels[depth]))

    def _context(self) -> Context:
        return Context(
            platform=self.platform,
            events=self.events,
            records_dir=self.workspace.records_dir,
            logs_dir=self.workspace.logs,
            env_for=self._env_for,
            changed=self._changed,
            lookup=self.services.get,
        )

    def _env_for(self, spec: ServiceSpec) -> dict[str, str]:
        """The orchestrator's environment, then .env (re-read at every start), then the service's own."""
        env = dict(os.environ)
        env.update(self._dotenv())
        env.update(spec.env)
        env["AUTONOMIC_WORKSPACE"] = str(self.workspace.root)
        env["AUTONOMIC_SERVICE"] = spec.name
        venv_bin = self.workspace.root / ".venv" / ("Scripts" if sys.platform == "win32" else "bin")
        if venv_bin.is_dir():
            env["PATH"] = os.pathsep.join([str(venv_bin), env.get("PATH", "")])
        return env

    def _dotenv(self) -> dict[str, str]:
        """The .env values, parsed again only when the file changed (a restart should not wait on it)."""
        try:
            stamp = self.workspace.env_file.stat().st_mtime_ns
        except OSError:
            return {}
        if self._dotenv_cache is None or self._dotenv_cache[0] != stamp:
            values = dotenv_values(self.workspace.env_file)
            self._dotenv_cache = (stamp, {k: v for k, v in values.items() if v is not None})
        return self._dotenv_cache[1]

    # --- control channel ----------------------------------------------------------------------
    async def _handle(self, request: dict[str, Any]) -> dict[str, Any]:
        command = request.get("command")
        if command == "ping":
            return {"ok": True, "pid": os.getpid()}
        if command == "status":
            return {"ok": True, **self.status()}
        if command == "reload":
            await self.apply(_read_plan(self.workspace.plan_file))
            return {"ok": True, **self.status()}
        if command in ("start", "stop", "restart"):
            return await self._service_command(str(command), str(request.get("service", "")))
        if command == "shutdown":
            self.shutdown(leave_running=bool(request.get("leave_running")))
            return {"ok": True}
        raise ControlError(f"unknown command {command!r}")

    async def _service_command(self, command: str, name: str) -> dict[str, Any]:
        service = self.services.get(name)
        if service is None:
            raise ControlError(f"no service named {name!r} (known: {', '.join(self.services) or 'none'})")
        if command in ("stop", "restart"):
            await service.stop(f"{command} requested")
        if command in ("start", "restart"):
            service.start()
        return {"ok": True, "service": service.snapshot()}

    def status(self) -> dict[str, Any]:
        return {
            "orchestrator": {
                "pid": os.getpid(),
                "started_at": self.started_at,
                "uptime": time.time() - self.started_at,
                "root": str(self.workspace.root),
            },
            "services": [
                self.services[s.name].snapshot() for s in self.plan.services if s.name in self.services
            ],
        }

    # --- signals and housekeeping -----------------------------------------------------------
    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for name in ("SIGTERM", "SIGINT"):
            with contextlib.suppress(NotImplementedError, AttributeError, ValueError):
                loop.add_signal_handler(getattr(signal, name), self.shutdown)
        with contextlib.suppress(NotImplementedError, AttributeError, ValueError):
            loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self._reload_from_file()))
        with contextlib.suppress(NotImplementedError, AttributeError, ValueError):
            loop.add_signal_handler(signal.SIGCHLD, self._schedule_reap)

    async def _reload_from_file(self) -> None:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            await self.apply(_read_plan(self.workspace.plan_file))

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(_HOUSEKEEPING_EVERY)
            for name in self.services:
                with contextlib.suppress(OSError):
                    logfile.rotate_if_needed(
                        self.workspace.service_log(name), self.plan.log_max_bytes, self.plan.log_keep
                    )
            self._reap_orphans()
            if not self._control.published():
                with contextlib.suppress(OSError):
                    self._control.publish()

    def _schedule_reap(self) -> None:
        """On SIGCHLD, look for orphans later, never on the path of a service's restart."""
        if self._reap_pending is None:
            loop = asyncio.get_running_loop()
            self._reap_pending = loop.call_later(_ORPHAN_GRACE, self._reap_orphans)

    def _reap_orphans(self) -> None:
        """As a subreaper we inherit orphaned grandchildren; reap those that exit. Our own children are
        reaped by their watchers, so only a zombie that is no service's process and has stayed a zombie
        for a while is an orphan of ours to collect."""
        self._reap_pending = None
        zombies = {pid for pid in _child_pids() if _is_zombie(pid)}
        ours = {s.process.pid for s in self.services.values() if s.process is not None}
        now = time.monotonic()
        self._zombies_seen = {pid: self._zombies_seen.get(pid, now) for pid in zombies - ours}
        for pid, first_seen in list(self._zombies_seen.items()):
            if now - first_seen >= _ORPHAN_GRACE:
                with contextlib.suppress(ChildProcessError, OSError):
                    os.waitpid(pid, os.WNOHANG)
                del self._zombies_seen[pid]


def _child_pids() -> list[int]:
    """Our direct children. Linux lists them per thread in /proc, which is far cheaper than psutil's
    scan of every process on the machine."""
    try:
        found: list[int] = []
        for task in os.scandir("/proc/self/task"):
            with open(f"{task.path}/children") as handle:
                found.extend(int(pid) for pid in handle.read().split())
        return found
    except OSError:
        try:
            return [child.pid for child in psutil.Process().children()]
        except psutil.Error:
            return []


def _is_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


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
