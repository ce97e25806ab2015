"""The Self-Healing Watchdog's loop: every `interval`, one look at the orchestrator (revived when dead,
killed and revived when hung across two looks) and a second look at every running service through its
own probe (restarted through the orchestrator when it stays unhealthy across two looks). Every look and
every action is a record in `outputs/watchdog_log.jsonl`, in the original's format."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from dataclasses import dataclass
from typing import Any

from autonomic import probes
from autonomic.errors import AutonomicError
from autonomic.eventlog import EventLog
from autonomic.supervisor.spec import Plan
from autonomic.watchdog.link import OrchestratorLink, Reach
from autonomic.workspace import Workspace

SELF = "watchdog"
_LOOKS_BEFORE_ACTION = 2
_NOT_WATCHED = frozenset({"stopped", "exited", "stopping"})  # left alone on purpose (user or policy)


@dataclass(frozen=True)
class WatchdogOptions:
    interval: float = 30.0
    timeout: float = 5.0
    log_max_bytes: int = 5 * 1024 * 1024

    @property
    def beat(self) -> float:
        """How often the heartbeat file is touched (the orchestrator's probe reads its age)."""
        return min(self.interval, 5.0)


@dataclass(frozen=True)
class Finding:
    """One service's state at one look."""

    name: str
    ok: bool
    detail: str
    restartable: bool = False


class Watchdog:
    def __init__(
        self, workspace: Workspace, options: WatchdogOptions, link: OrchestratorLink | None = None
    ) -> None:
        self.workspace = workspace
        self.options = options
        self.link = link or OrchestratorLink(workspace, options.timeout)
        self.events = EventLog(workspace.watchdog_log, options.log_max_bytes)
        self.unhealthy: dict[str, int] = {}  # service -> unhealthy looks in a row
        self.unanswered = 0  # pings in a row the orchestrator did not answer in time
        self._stop = asyncio.Event()

    async def run(self) -> None:
        """Look every interval until SIGTERM / SIGINT."""
        self._install_signal_handlers()
        self._touch()
        self.events.write(
            "start", SELF, "running", f"pid {os.getpid()}, a look every {self.options.interval:g}s",
            pid=os.getpid(), interval=self.options.interval,
        )  # fmt: skip
        beat = asyncio.create_task(self._heartbeat())
        try:
            while not await self._sleep(self.options.interval):
                await self.look()
        finally:
            beat.cancel()
            self.events.write("stop", SELF, "success", f"pid {os.getpid()} stopped")

    def stop(self) -> None:
        self._stop.set()

    async def look(self) -> list[Finding]:
        """One look at everything; returns what was found (after any repair it started)."""
        self.link.reap()
        findings = [await self._look_at_orchestrator()]
        if findings[0].ok:
            findings.extend(await self._look_at_services())
        failing = [f for f in findings if not f.ok]
        for finding in failing:
            if finding is findings[0]:
                continue  # the orchestrator's look wrote its own record, before any revival
            self.events.write("check", finding.name, "down", finding.detail)
        if failing:
            names = ", ".join(f.name for f in failing)
            self.events.write("check", "all", "failed", f"{len(failing)} not ok: {names}")
        else:
            self.events.write(
                "check", "all", "ok", f"orchestrator and {len(findings) - 1} services ok",
                services=[f.name for f in findings],
            )  # fmt: skip
        await self._repair(failing)
        return findings

    # --- the orchestrator ----------------------------------------------------------------------
    async def _look_at_orchestrator(self) -> Finding:
        ping = await asyncio.to_thread(self.link.ping)
        if ping.reach is Reach.OK:
            self.unanswered = 0
            return Finding("orchestrator", True, ping.detail)
        if ping.reach is Reach.HUNG:
            self.unanswered += 1
            detail = f"no answer ({self.unanswered} looks in a row): {ping.detail}"
            self.events.write("check", "orchestrator", "down", detail)
            if self.unanswered >= _LOOKS_BEFORE_ACTION:
                await self._revive(ping.pid, hung=True)
            return Finding("orchestrator", False, detail)
        self.unanswered = 0
        detail = f"not running: {ping.detail}"
        self.events.write("check", "orchestrator", "down", detail)
        await self._revive(None, hung=False, reason=ping.detail)
        return Finding("orchestrator", False, detail)

    async def _revive(self, pid: int | None, hung: bool, reason: str = "") -> None:
        if self._stop.is_set():
            return  # being stopped (by `down`, say): bringing the orchestrator back would undo it
        self.events.write(
            "restart", "orchestrator", "attempting", "hung: kill, then start" if hung else reason
        )
        try:
            if hung:
                gone, what = await asyncio.to_thread(self.link.kill_hung, pid)
                self.events.write("stop", "orchestrator", "success" if gone else "failed", what)
                if not gone:
                    self.events.write("restart", "orchestrator", "failed", what)
                    return
            detail = await asyncio.to_thread(self.link.revive, self._stop.is_set)
        except (AutonomicError, OSError) as exc:
            self.events.write("restart", "orchestrator", "failed", str(exc))
            return
        self.unanswered = 0
        self.events.write("restart", "orchestrator", "success", detail)

    # --- the services --------------------------------------------------------------------------
    async def _look_at_services(self) -> list[Finding]:
        try:
            status = await asyncio.to_thread(self.link.status)
        except AutonomicError as exc:
            return [Finding("orchestrator", False, f"status: {exc}")]
        plan = _read_plan(self.workspace)
        looks = [
            self._look_at(service, plan)
            for service in status.get("services", [])
            if service.get("name") != SELF and service.get("state") not in _NOT_WATCHED
        ]
        findings = list(await asyncio.gather(*looks))
        for finding in findings:
            self.unhealthy[finding.name] = 0 if finding.ok else self.unhealthy.get(finding.name, 0) + 1
        return findings

    async def _look_at(self, service: dict[str, Any], plan: Plan | None) -> Finding:
        name, state, pid = str(service["name"]), str(service.get("state")), service.get("pid")
        if state != "running" or not pid:
            detail = service.get("detail") or "no detail"
            return Finding(name, False, f"state {state} ({detail}); the orchestrator is on it")
        spec = plan.service(name) if plan else None
        probe = probes.build(spec.probe if spec else None)
        since = time.time() - float(service["uptime"]) if service.get("uptime") is not None else None
        try:
            result = await asyncio.wait_for(probe.check(int(pid), since), probe.timeout + 1.0)
        except TimeoutError:
            return Finding(name, False, f"probe gave no answer within {probe.timeout + 1.0:g}s", True)
        return Finding(name, result.ok, result.detail, restartable=not result.ok)

    async def _repair(self, failing: list[Finding]) -> None:
        for finding in failing:
            if not finding.restartable or self.unhealthy.get(finding.name, 0) < _LOOKS_BEFORE_ACTION:
                continue
            self.unhealthy[finding.name] = 0
            looks = f"unhealthy {_LOOKS_BEFORE_ACTION} looks in a row: {finding.detail}"
            self.events.write("restart", finding.name, "attempting", looks)
            try:
                snapshot = await asyncio.to_thread(self.link.restart, finding.name, 120.0)
            except AutonomicError as exc:
                self.events.write("restart", finding.name, "failed", str(exc))
                continue
            self.events.write(
                "restart",
                finding.name,
                "success",
                f"state {snapshot.get('state')}, pid {snapshot.get('pid')}",
            )

    # --- plumbing ------------------------------------------------------------------------------
    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.options.beat)
            self._touch()

    def _touch(self) -> None:
        path = self.workspace.heartbeat_file(SELF)
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()

    async def _sleep(self, seconds: float) -> bool:
        """Wait `seconds`; True if asked to stop meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
        return self._stop.is_set()

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for name in ("SIGTERM", "SIGINT"):
            with contextlib.suppress(NotImplementedError, AttributeError, ValueError):
                loop.add_signal_handler(getattr(signal, name), self.stop)


def _read_plan(workspace: Workspace) -> Plan | None:
    try:
        return Plan.from_dict(json.loads(workspace.plan_file.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
