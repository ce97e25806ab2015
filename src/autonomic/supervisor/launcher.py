"""The client half of the orchestrator's verbs (`up`, `down`, start/stop/restart, status), used by the
CLI: hand over the plan, start the daemon detached if none runs, talk to it over the control channel.

A running orchestrator is found even when `.autonomic/` was emptied: by its lock on the workspace folder
and in the process table, and asked to publish its control file again instead of a second one being
started. `up` and `down` of one workspace take turns (a lock), so racing them ends in the state the
last one's exit code says."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from autonomic import atomic
from autonomic import platform as platforms
from autonomic.errors import NotRunningError, StateError, TimeoutExpired, UsageError
from autonomic.platform.base import is_alive
from autonomic.platform.lock import ProcessLock
from autonomic.supervisor import logfile, markers
from autonomic.supervisor import record as records
from autonomic.supervisor.control import ControlClient
from autonomic.supervisor.process import ManagedProcess
from autonomic.supervisor.protocol import Command, ServiceStatus, StatusReply
from autonomic.supervisor.spec import Plan
from autonomic.supervisor.state import ServiceState
from autonomic.workspace import Workspace

_DAEMON_START_TIMEOUT = 20.0
_REPUBLISH_WAIT = 8.0
_TURN_WAIT = 180.0

Progress = Callable[[list[ServiceStatus]], None]


def daemon_argv(workspace: Workspace) -> list[str]:
    return [sys.executable, "-m", "autonomic.supervisor", "--workspace", str(workspace.root)]


def check_layout(workspace: Workspace) -> None:
    """One clear line (StateError) when a runtime path is a folder where a file belongs, or the reverse."""
    files = (workspace.control_file, workspace.plan_file, workspace.lock_file, workspace.orchestrator_log)
    folders = (workspace.state_dir, workspace.records_dir, workspace.logs, workspace.outputs)
    for path in files:
        if path.is_dir():
            raise StateError(f"{path} is a folder where a file belongs; remove it and try again")
    for path in folders:
        if path.exists() and not path.is_dir():
            raise StateError(f"{path} is a file where a folder belongs; remove it and try again")


def write_plan(workspace: Workspace, plan: Plan) -> None:
    check_layout(workspace)
    try:
        workspace.ensure_dirs()
        atomic.write_json(workspace.plan_file, plan.to_dict())
    except OSError as exc:
        where = exc.filename or workspace.plan_file
        raise StateError(f"cannot write {where}: {exc.strerror or exc}") from None


def client(workspace: Workspace) -> ControlClient:
    """A client for the running orchestrator; NotRunningError when there is none."""
    control = ControlClient.for_file(workspace.control_file)
    control.request(Command.PING, timeout=5.0)
    return control


def find(workspace: Workspace) -> ControlClient | None:
    """The running orchestrator, even when its control file is gone or garbled: one found by its lock or
    in the process table is asked to publish the file again. None when no orchestrator runs."""
    try:
        return client(workspace)
    except NotRunningError:
        pass
    held = ProcessLock(workspace.root).held_elsewhere() or ProcessLock(workspace.lock_file).held_elsewhere()
    if not markers.ask_to_republish(workspace.root) and not held:
        return None
    deadline = time.monotonic() + _REPUBLISH_WAIT
    while time.monotonic() < deadline:
        time.sleep(0.1)
        try:
            return client(workspace)
        except NotRunningError:
            continue
    return None


def ensure_running(workspace: Workspace) -> ControlClient:
    """The running orchestrator, started detached (in its own session, logging to
    logs/orchestrator.log) when there is none. Racing callers end up with the same single one."""
    found = find(workspace)
    if found is not None:
        return found
    log_path = workspace.logs / "orchestrator.log"
    for _ in range(3):  # a starter that lost a race to a briefly held lock leaves: start again
        daemon = _spawn_daemon(workspace, log_path)
        deadline = time.monotonic() + _DAEMON_START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                return client(workspace)
            except NotRunningError:
                code = daemon.poll()
                if code == 0:
                    if (found := find(workspace)) is not None:
                        return found  # it found another one running and left: that one is ours
                    break
                if code is not None:
                    message = f"the orchestrator exited with code {code}; see {log_path}"
                    raise NotRunningError(message) from None
                time.sleep(0.05)
        else:
            raise TimeoutExpired(
                f"the orchestrator did not come up within {_DAEMON_START_TIMEOUT:g}s; see {log_path}"
            )
    raise NotRunningError(f"the orchestrator would not stay up; see {log_path}")


def _spawn_daemon(workspace: Workspace, log_path: Path) -> subprocess.Popen[bytes]:
    try:
        log = logfile.open_append(log_path)
    except OSError:
        log = subprocess.DEVNULL
    try:
        return subprocess.Popen(
            daemon_argv(workspace),
            cwd=workspace.root,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=markers.orchestrator_env(workspace.root),
            **platforms.current().detached_popen_kwargs(),
        )
    finally:
        if log != subprocess.DEVNULL:
            os.close(log)


@contextmanager
def turn(workspace: Workspace, timeout: float = _TURN_WAIT) -> Iterator[None]:
    """`up` and `down` of one workspace one at a time."""
    try:
        workspace.state_dir.mkdir(parents=True, exist_ok=True)
        lock = ProcessLock(workspace.verbs_lock)
        deadline = time.monotonic() + timeout
        while not lock.acquire():
            if time.monotonic() > deadline:
                raise TimeoutExpired(f"another 'up' or 'down' still runs after {timeout:g}s")
            time.sleep(0.05)
    except OSError as exc:
        where = exc.filename or workspace.state_dir
        raise StateError(f"cannot take {where}: {exc.strerror or exc}") from None
    try:
        yield
    finally:
        lock.release()


@dataclass
class Outcome:
    """Where a wait ended: the status, the services that failed (fatal, or blocked) and those still
    pending when the time ran out."""

    status: StatusReply
    failed: list[ServiceStatus] = field(default_factory=list)
    pending: list[ServiceStatus] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.pending


def up(workspace: Workspace, plan: Plan, timeout: float, progress: Progress | None = None) -> Outcome:
    """Hand over `plan`, make sure the orchestrator runs it, and wait until every service that should run
    is running; stop waiting at once when one is fatal or blocked."""
    with turn(workspace):
        write_plan(workspace, plan)
        control = ensure_running(workspace)
        control.request(Command.RELOAD, timeout=60.0)
    return wait_settled(control, timeout, progress)


def wait_settled(
    control: ControlClient,
    timeout: float,
    progress: Progress | None = None,
    names: list[str] | None = None,
) -> Outcome:
    deadline = time.monotonic() + timeout
    while True:
        try:
            status = control.status()
        except NotRunningError:
            message = "the orchestrator stopped while waiting (was 'autonomic down' run?)"
            raise NotRunningError(message) from None
        watched = [s for s in status.services if names is None or s.name in names]
        if progress:
            progress(watched)
        failed = [s for s in watched if s.failed]
        pending = [s for s in watched if not s.settled and not s.failed]
        preparing = status.orchestrator is not None and status.orchestrator.preparing
        if failed or not (pending or preparing):
            return Outcome(status, failed)
        if time.monotonic() > deadline:
            if preparing and not pending:
                raise TimeoutExpired(
                    f"the orchestrator still runs its start-up jobs (the upgrade check) after {timeout:g}s"
                )
            return Outcome(status, [], pending)
        time.sleep(0.1)


def down(workspace: Workspace, timeout: float = 120.0) -> list[str]:
    """Stop every service (dependents first) and the orchestrator, then any process of the workspace that
    is still alive (found by its record or its mark). Returns what was stopped, in order, "orchestrator"
    last when one ran."""
    check_layout(workspace)
    with turn(workspace):
        stopped: list[str] = []
        control = find(workspace)
        if control is not None:
            with contextlib.suppress(NotRunningError):  # gone meanwhile: what it left is stopped below
                stopped.extend(control.request(Command.SHUTDOWN, timeout=timeout).get("stopped", []))
            _wait_gone(control.pid, timeout)
        orchestrators = markers.find_orchestrators(workspace.root)
        for leftover in orchestrators:
            _terminate(leftover.pid)  # unreachable on its channel: SIGTERM also stops all it runs
            _wait_gone(leftover.pid, timeout)
        for name in _stop_leftovers(workspace):
            if name not in stopped:
                stopped.append(name)
        if control is not None or orchestrators:
            stopped.append("orchestrator")
        return stopped


def _terminate(pid: int) -> None:
    import psutil

    with contextlib.suppress(psutil.Error):
        psutil.Process(pid).terminate()


def _wait_gone(pid: int | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while pid and is_alive(pid) and pid != os.getpid():
        if time.monotonic() > deadline:
            raise TimeoutExpired(f"the orchestrator (pid {pid}) did not exit within {timeout:g}s")
        time.sleep(0.05)


def _stop_leftovers(workspace: Workspace) -> list[str]:
    """Stop the process groups of recorded or marked service processes whose orchestrator is gone."""
    platform = platforms.current()
    victims: dict[int, tuple[str, ManagedProcess]] = {}
    scanned = records.scan(workspace.records_dir)
    for name, rec in scanned.found.items():
        if rec.is_live():
            victims[rec.pid] = (name, ManagedProcess.adopt(rec, platform))
    for found in markers.find_services(workspace.root):
        victims.setdefault(found.pid, (found.service, ManagedProcess.adopt_found(found, platform)))

    async def stop_all() -> None:
        await asyncio.gather(*(process.stop("SIGTERM", 10.0) for _, process in victims.values()))

    if victims:
        asyncio.run(stop_all())
    for name in [*scanned.found, *scanned.damaged]:
        try:
            records.remove(workspace.record_file(name))
        except OSError:
            continue
    return list(dict.fromkeys(name for name, _ in victims.values()))


def service_command(
    workspace: Workspace, command: Command, service: str, timeout: float = 120.0
) -> ServiceStatus:
    """start / stop / restart one service through the running orchestrator; for start and restart,
    wait (up to `timeout`) until it is running or has failed, and return the state it reached."""
    control = find(workspace)
    if control is None:
        raise NotRunningError("the orchestrator is not running (run 'autonomic up')")
    reply = control.request(command, timeout=timeout, service=service)
    reached = ServiceStatus.from_dict(reply["service"])
    if command is Command.STOP:
        return reached
    outcome = wait_settled(control, timeout, names=[service])
    return outcome.status.service(service) or reached


def status(workspace: Workspace, plan: Plan | None = None) -> StatusReply:
    """The live status from the orchestrator; when none runs, the configured services (from `plan`) as
    `stopped`, or `orphaned` when a process of theirs still runs (found by its record or its mark)."""
    check_layout(workspace)
    control = find(workspace)
    if control is not None:
        return control.status()
    live: dict[str, tuple[int, float]] = {}
    scanned = records.scan(workspace.records_dir)
    for name, rec in scanned.found.items():
        if rec.is_live():
            live[name] = (rec.pid, rec.started_at)
    for found in markers.find_services(workspace.root):
        live.setdefault(found.service, (found.pid, found.create_time))
    names = list(dict.fromkeys([*(s.name for s in plan.services), *live] if plan else live))
    services = []
    for name in names:
        pid, started = live.get(name, (None, None))
        damaged = scanned.damaged.get(name)
        services.append(
            ServiceStatus(
                name=name,
                state=ServiceState.ORPHANED if pid else ServiceState.STOPPED,
                pid=pid,
                uptime=time.time() - started if started else None,
                detail="running without an orchestrator" if pid else "",
                problems=[f"process record {damaged} (damaged)"] if damaged else [],
            )
        )
    return StatusReply(None, services)


def known(plan: Plan, service: str) -> None:
    """UsageError (exit 2) unless `service` is in the plan: the same message for every verb."""
    if plan.service(service) is None:
        names = ", ".join(s.name for s in plan.services) or "none"
        raise UsageError(f"no service named {service!r} (known: {names})")
