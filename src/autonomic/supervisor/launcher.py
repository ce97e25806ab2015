"""The client half of the orchestrator's verbs (`up`, `down`, start/stop/restart, status), used by the
CLI: hand over the plan, start the daemon detached if none runs, talk to it over the control channel."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from autonomic import atomic
from autonomic import platform as platforms
from autonomic.errors import NotRunningError, TimeoutExpired
from autonomic.platform.base import is_alive
from autonomic.supervisor import record as records
from autonomic.supervisor.control import ControlClient
from autonomic.supervisor.spec import Plan
from autonomic.supervisor.state import ServiceState
from autonomic.workspace import Workspace

_DAEMON_START_TIMEOUT = 20.0


def daemon_argv(workspace: Workspace) -> list[str]:
    return [sys.executable, "-m", "autonomic.supervisor", "--workspace", str(workspace.root)]


def write_plan(workspace: Workspace, plan: Plan) -> None:
    workspace.ensure_dirs()
    atomic.write_json(workspace.plan_file, plan.to_dict())


def client(workspace: Workspace) -> ControlClient:
    """A client for the running orchestrator; NotRunningError when there is none."""
    control = ControlClient.for_file(workspace.control_file)
    control.request("ping", timeout=5.0)
    return control


def ensure_running(workspace: Workspace) -> ControlClient:
    """The running orchestrator, started detached (in its own session, logging to
    logs/orchestrator.log) when there is none. Racing callers end up with the same single one."""
    try:
        return client(workspace)
    except NotRunningError:
        pass
    workspace.logs.mkdir(parents=True, exist_ok=True)
    with open(workspace.logs / "orchestrator.log", "ab") as log:
        daemon = subprocess.Popen(
            daemon_argv(workspace),
            cwd=workspace.root,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            **platforms.current().detached_popen_kwargs(),
        )
    deadline = time.monotonic() + _DAEMON_START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            return client(workspace)
        except NotRunningError:
            code = daemon.poll()
            if code not in (None, 0):
                raise NotRunningError(
                    f"the orchestrator exited with code {code}; see {workspace.logs / 'orchestrator.log'}"
                ) from None
            time.sleep(0.05)
    raise TimeoutExpired(
        f"the orchestrator did not come up within {_DAEMON_START_TIMEOUT:g}s; "
        f"see {workspace.logs / 'orchestrator.log'}"
    )


def up(
    workspace: Workspace,
    plan: Plan,
    timeout: float,
    progress: Callable[[list[dict[str, Any]]], None] | None = None,
) -> dict[str, Any]:
    """Hand over `plan`, make sure the orchestrator runs it, and wait until every service that should
    run is running (or `timeout` passes: TimeoutExpired names the ones that are not)."""
    write_plan(workspace, plan)
    control = ensure_running(workspace)
    control.request("reload", timeout=60.0)
    return wait_healthy(control, timeout, progress)


def wait_healthy(
    control: ControlClient, timeout: float, progress: Callable[[list[dict[str, Any]]], None] | None = None
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = control.request("status")
        if progress:
            progress(status["services"])
        pending = [s for s in status["services"] if _pending(s)]
        if not pending:
            return status
        if time.monotonic() > deadline:
            names = ", ".join(f"{s['name']} ({s['state']}: {s['detail'] or 'no detail'})" for s in pending)
            raise TimeoutExpired(f"not healthy after {timeout:g}s: {names}")
        time.sleep(0.1)


def _pending(service: dict[str, Any]) -> bool:
    state = ServiceState(service["state"])
    return state not in (ServiceState.RUNNING, ServiceState.STOPPED, ServiceState.EXITED)


def down(workspace: Workspace, timeout: float = 120.0) -> list[str]:
    """Stop every service (dependents first) and the orchestrator. With no orchestrator running, any
    recorded service process still alive (left by a crashed orchestrator) is stopped all the same.
    Returns what was stopped."""
    stopped: list[str] = []
    try:
        control = client(workspace)
    except NotRunningError:
        control = None
    if control is not None:
        names = [s["name"] for s in control.request("status")["services"] if s["pid"]]
        control.request("shutdown", timeout=timeout)
        _wait_gone(control.pid, timeout)
        stopped.extend(names)
    stopped.extend(_stop_orphans(workspace))
    return stopped


def _wait_gone(pid: int | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while pid and is_alive(pid) and pid != os.getpid():
        if time.monotonic() > deadline:
            raise TimeoutExpired(f"the orchestrator (pid {pid}) did not exit within {timeout:g}s")
        time.sleep(0.05)


def _stop_orphans(workspace: Workspace) -> list[str]:
    """Kill the process groups of recorded services whose orchestrator is gone."""
    import asyncio

    from autonomic.supervisor.process import ManagedProcess

    stopped = []
    for name, rec in records.load_all(workspace.records_dir).items():
        if rec.is_live():
            asyncio.run(ManagedProcess.adopt(rec, platforms.current()).stop("SIGTERM", 10.0))
            stopped.append(name)
        records.remove(workspace.record_file(name))
    return stopped


def service_command(
    workspace: Workspace, command: str, service: str, timeout: float = 120.0
) -> dict[str, Any]:
    """start / stop / restart one service through the running orchestrator."""
    reply = client(workspace).request(command, timeout=timeout, service=service)
    return dict(reply["service"])


def status(workspace: Workspace) -> dict[str, Any]:
    """The live status from the orchestrator; when it is down, what the records on disk say."""
    try:
        return client(workspace).request("status")
    except NotRunningError:
        pass
    services = []
    for name, rec in records.load_all(workspace.records_dir).items():
        live = rec.is_live()
        services.append(
            {
                "name": name,
                "state": "orphaned" if live else "stopped",
                "pid": rec.pid if live else None,
                "uptime": time.time() - rec.started_at if live else None,
                "restarts": None,
                "detail": "running without an orchestrator" if live else "",
                "last_probe": None,
            }
        )
    return {"orchestrator": None, "services": services}
