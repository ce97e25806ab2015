"""The watchdog's line to the orchestrator: ping it, read its status, ask it to restart a service, and
bring it back when it is dead or hung.

Revival starts the orchestrator daemon from the plan the CLI last handed over (`.autonomic/plan.json`),
exactly as `autonomic up` does under the hood (`launcher.ensure_running`, in turn with any `up` or
`down`); the orchestrator's workspace lock makes a race with any other starter end in one orchestrator,
and its adoption rules keep every live service (this watchdog included) instead of starting a second
copy. Without a plan it runs `autonomic up`."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import psutil

from autonomic.errors import ControlError, NotRunningError
from autonomic.supervisor import launcher, markers
from autonomic.supervisor.control import ControlClient
from autonomic.workspace import Workspace


class Reach(StrEnum):
    """How the orchestrator answered one ping."""

    OK = "ok"
    DOWN = "down"  # nothing listens: no control file, or the connection is refused
    HUNG = "hung"  # something is there but did not answer in time


@dataclass(frozen=True)
class Ping:
    reach: Reach
    detail: str
    pid: int | None = None


class OrchestratorLink:
    def __init__(self, workspace: Workspace, timeout: float) -> None:
        self.workspace = workspace
        self.timeout = timeout
        self._started: set[int] = set()

    def ping(self) -> Ping:
        try:
            client = ControlClient.for_file(self.workspace.control_file)
        except NotRunningError as exc:
            return Ping(Reach.DOWN, str(exc))
        try:
            reply = client.request("ping", timeout=self.timeout)
        except NotRunningError as exc:
            return Ping(Reach.DOWN, str(exc), client.pid)
        except ControlError as exc:
            return Ping(Reach.HUNG, str(exc), client.pid)
        pid = reply.get("pid", client.pid)
        return Ping(Reach.OK, f"pid {pid} answered", int(pid) if pid else None)

    def status(self) -> dict[str, Any]:
        return ControlClient.for_file(self.workspace.control_file).request("status", timeout=self.timeout)

    def restart(self, service: str, timeout: float) -> dict[str, Any]:
        reply = ControlClient.for_file(self.workspace.control_file).request(
            "restart", timeout=timeout, service=service
        )
        return dict(reply.get("service", {}))

    def revive(self, cancelled: Callable[[], bool] = lambda: False) -> str:
        """Start the orchestrator (in turn with any `up` or `down` of the workspace) and wait, bounded,
        until it answers; what happened, in words. NotRunningError / TimeoutExpired when it does not.
        `cancelled` is asked once the turn is ours: a `down` that ran meanwhile stopped us too."""
        if not self.workspace.plan_file.is_file():
            return self._up()
        with launcher.turn(self.workspace):
            if cancelled():
                raise NotRunningError("the watchdog is being stopped; the orchestrator is left down")
            control = launcher.ensure_running(self.workspace)
        if control.pid:
            self._started.add(int(control.pid))
        return f"orchestrator pid {control.pid} answered"

    def _up(self) -> str:
        """No plan to start from: let `autonomic up` resolve the config into one."""
        argv = [sys.executable, "-m", "autonomic", "up", "--workspace", str(self.workspace.root)]
        env = {k: v for k, v in os.environ.items() if k != markers.SERVICE_MARK}
        done = subprocess.run(
            argv, cwd=self.workspace.root, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines()
            raise NotRunningError(f"autonomic up failed: {lines[-1] if lines else f'exit {done.returncode}'}")
        return "autonomic up done (there was no plan to start from)"

    def kill_hung(self, pid: int | None) -> tuple[bool, str]:
        """SIGKILL a hung orchestrator, but only a process that is this workspace's orchestrator; whether
        it is gone now, and what happened, in words."""
        if pid is None or not _is_orchestrator(pid, self.workspace):
            return False, f"pid {pid} is not this workspace's orchestrator; left alone"
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            proc.kill()
            proc.wait(10.0)
        return True, f"killed the hung orchestrator pid {pid}"

    def reap(self) -> None:
        """Collect orchestrators we started that have since ended, so none stays a zombie (only those:
        reaping any child would steal the exit status of a command probe's process). Windows keeps
        no zombies: there is nothing to collect."""
        if sys.platform == "win32":
            self._started.clear()
        else:
            for pid in list(self._started):
                try:
                    if os.waitpid(pid, os.WNOHANG)[0] == 0:
                        continue
                except (ChildProcessError, OSError):
                    pass
                self._started.discard(pid)


def _is_orchestrator(pid: int, workspace: Workspace) -> bool:
    try:
        cmdline = psutil.Process(pid).cmdline()
    except psutil.Error:
        return False
    return "autonomic.supervisor" in cmdline and str(workspace.root) in cmdline
