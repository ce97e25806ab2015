"""The upgrade's half of the orchestrator's verbs: restart one service, hand over a re-planned config,
read the status the health gate judges. It goes through the same control channel and plan hand-over
as `autonomic up` and `autonomic restart` (`supervisor.launcher`), so adoption rules hold."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from typing import Any

from autonomic.errors import AutonomicError, NotRunningError, TimeoutExpired
from autonomic.eventlog import EventLog
from autonomic.platform.base import is_alive
from autonomic.supervisor import launcher
from autonomic.supervisor.control import ControlClient
from autonomic.supervisor.protocol import Command
from autonomic.supervisor.service import spec_hash
from autonomic.supervisor.spec import Plan
from autonomic.upgrade.gate import Baseline, HealthGate
from autonomic.workspace import Workspace

_RELOAD_TIMEOUT = 180.0
_SYSTEM_HEALTH_TIMEOUT = 120.0


class Supervision:
    def __init__(self, workspace: Workspace, control: ControlClient) -> None:
        self.workspace = workspace
        self.control = control

    @classmethod
    def connect(cls, workspace: Workspace) -> Supervision | None:
        """The running orchestrator of `workspace`, or None when none runs."""
        try:
            return cls(workspace, launcher.client(workspace))
        except NotRunningError:
            return None

    def services(self) -> list[dict[str, Any]]:
        return list(self.control.request(Command.STATUS)["services"])

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {s["name"]: s for s in self.services()}

    def restart(self, name: str) -> dict[str, Any]:
        """Stop and start one service; returns its snapshot right after."""
        spec = self.current_plan().service(name)
        stop_timeout = spec.stop_timeout if spec else 30.0
        reply = self.control.request(Command.RESTART, timeout=stop_timeout + 60.0, service=name)
        return dict(reply["service"])

    def reload(self, plan: Plan) -> list[str]:
        """Hand `plan` to the orchestrator (as `autonomic up` does); returns the services it (re)starts:
        new ones and those whose definition changed."""
        before = {s.name: spec_hash(s) for s in self.current_plan().services}
        with launcher.turn(self.workspace):  # the same hand-over as `autonomic up`, never beside one
            launcher.write_plan(self.workspace, plan)
            self.control.request(Command.RELOAD, timeout=_RELOAD_TIMEOUT)
        return [s.name for s in plan.services if before.get(s.name) != spec_hash(s)]

    def current_plan(self) -> Plan:
        """The plan the orchestrator was last handed (an empty one if it cannot be read)."""
        try:
            return Plan.from_dict(json.loads(self.workspace.plan_file.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            return Plan(root=str(self.workspace.root), services=[])

    def gate(
        self, names: list[str], timeout: float, settle: float, restarts: dict[str, int] | None = None
    ) -> dict[str, str]:
        """Wait for `names` to be healthy; {service: why} for those that are not. `restarts` is each
        one's restart count just after the upgrade restarted it (now, when not given)."""
        if restarts is None:
            current = self.snapshot()
            restarts = {n: int(current[n].get("restarts") or 0) for n in names if n in current}
        baselines = {n: Baseline(restarts.get(n)) for n in names}
        return HealthGate(self.services).wait(baselines, timeout, settle)

    def restart_orchestrator(self, timeout: float = 60.0) -> tuple[int | None, int | None]:
        """Replace the orchestrator process, leaving the services running: the new one adopts them
        (unchanged processes are never started twice). Returns (old pid, new pid)."""
        old = self.control.pid
        with launcher.turn(self.workspace):
            self.control.request(Command.SHUTDOWN, timeout=timeout, leave_running=True)
            deadline = time.monotonic() + timeout
            while old and is_alive(old):
                if time.monotonic() > deadline:
                    raise TimeoutExpired(f"the orchestrator (pid {old}) did not exit within {timeout:g}s")
                time.sleep(0.05)
            self.control = launcher.ensure_running(self.workspace)
        wanted = {s.name for s in self.current_plan().services if s.autostart}
        while not wanted <= {s["name"] for s in self.services()}:  # its `before` jobs run first
            if time.monotonic() > deadline + timeout:
                raise TimeoutExpired(
                    f"the new orchestrator did not take the services back within {2 * timeout:g}s"
                )
            time.sleep(0.1)
        launcher.wait_settled(self.control, timeout, names=sorted(wanted))
        return old, self.control.pid

    def system_health(self) -> dict[str, Any] | None:
        """The full `autonomic health` report (the seed's eight checks), when that command exists; for
        the log only: machine-level checks (boot entry, backup schedule) must not decide an upgrade."""
        if importlib.util.find_spec("autonomic.health") is None:
            return None
        argv = [
            sys.executable,
            "-m",
            "autonomic",
            "health",
            "--json",
            "--workspace",
            str(self.workspace.root),
        ]
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=_SYSTEM_HEALTH_TIMEOUT, stdin=subprocess.DEVNULL
            )
            report = json.loads(done.stdout)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            return None
        return report if isinstance(report, dict) and "passed" in report else None


def restart_orchestrator(workspace: Workspace) -> tuple[int | None, int | None]:
    """Replace the running orchestrator (autonomic itself was upgraded), logged to the upgrade log."""
    log = EventLog(workspace.upgrade_log)
    supervision = Supervision.connect(workspace)
    if supervision is None:
        raise NotRunningError("the orchestrator is not running: nothing to restart")
    try:
        old, new = supervision.restart_orchestrator()
    except AutonomicError as exc:
        log.write("restart", "orchestrator", "failed", str(exc))
        raise
    log.write(
        "restart", "orchestrator", "success", f"pid {old} -> {new}; services adopted", old_pid=old, pid=new
    )
    return old, new
