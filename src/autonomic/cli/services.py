"""`autonomic init | up | down | status | start | stop | restart | logs`: thin wrappers over the
scaffold, config and supervisor packages."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path
from typing import Any

import typer

from autonomic import config, scaffold
from autonomic.cli import render
from autonomic.cli.options import JsonOption, WorkspaceOption, find_workspace
from autonomic.errors import AutonomicError, ConfigError, NotRunningError, TimeoutExpired, UsageError
from autonomic.supervisor import launcher, logfile, markers
from autonomic.supervisor.protocol import Command, ServiceStatus, StatusReply
from autonomic.supervisor.spec import Plan
from autonomic.supervisor.state import ServiceState
from autonomic.units import format_duration
from autonomic.workspace import Workspace


def init(directory: Path = typer.Argument(Path("."), help="The folder to make a workspace.")) -> None:
    """Make a folder an autonomic workspace: autonomic.toml, .env (0600), outputs/, logs/, .autonomic/."""
    workspace = Workspace.at(directory)
    if workspace.root.exists() and not workspace.root.is_dir():
        raise UsageError(f"{workspace.root} is not a folder")
    report = scaffold.init(workspace)
    for path in report.created:
        render.success(f"created {path.relative_to(workspace.root)}")
    if not report.created:
        render.info(f"{workspace.root} is already a workspace; nothing changed")


def up(
    foreground: bool = typer.Option(
        False, "--foreground", help="Run the orchestrator attached (boot entries use this)."
    ),
    timeout: float = typer.Option(
        120.0, "--timeout", min=1.0, help="Seconds to wait for every service to be healthy."
    ),
    workspace_dir: Path | None = WorkspaceOption,
    boot: bool = typer.Option(
        False, "--boot", help="Run as the boot entry: wait [boot] delay, then the boot flow (foreground)."
    ),
    delay: str | None = typer.Option(None, "--delay", help="With --boot: the wait (default: [boot] delay)."),
) -> None:
    """Start the orchestrator (if it is not running) and every service, then show their status."""
    workspace = find_workspace(workspace_dir)
    loaded = config.load(workspace)
    plan = config.plan(loaded, workspace)
    if boot:
        from autonomic.boot.flow import start_at_boot

        at_boot = start_at_boot(workspace, loaded.boot, plan, delay)
        if at_boot is None:
            render.info("an orchestrator already runs this workspace; nothing to do")
            return
        plan, foreground = at_boot, True
    if foreground:
        _run_foreground(workspace, plan)
        return
    with render.spinner("starting the orchestrator") as update:
        outcome = launcher.up(workspace, plan, timeout, progress=lambda services: update(_waiting(services)))
    _print_status(outcome.status)
    from autonomic.cli.health import show_after_up  # every `up` ends with the seed's health dashboard

    show_after_up(workspace, settle=10.0 if outcome.ok else 0.0)
    if outcome.failed:
        raise AutonomicError("; ".join(f"{s.name}: {_why(s)}" for s in outcome.failed))
    if outcome.pending:
        names = ", ".join(f"{s.name} ({s.shown_state}: {s.detail or 'no detail'})" for s in outcome.pending)
        raise TimeoutExpired(f"not healthy after {timeout:g}s: {names}")


def _waiting(services: list[ServiceStatus]) -> str:
    pending = [f"{s.name} ({s.shown_state})" for s in services if not s.settled]
    return "waiting for " + ", ".join(pending) if pending else "all services running"


def _run_foreground(workspace: Workspace, plan: Any) -> None:
    launcher.write_plan(workspace, plan)
    argv = launcher.daemon_argv(workspace)
    sys.stdout.flush()
    sys.stderr.flush()
    env = markers.orchestrator_env(workspace.root)
    if os.name == "posix":
        os.execve(argv[0], argv, env)  # shed the CLI's imports: the orchestrator runs lean in this same pid
    os.environ.update(env)
    from autonomic.supervisor.__main__ import main

    raise typer.Exit(main(argv[3:]))


def down(workspace_dir: Path | None = WorkspaceOption) -> None:
    """Stop every service (dependents first), then the orchestrator."""
    workspace = find_workspace(workspace_dir)
    stopped = launcher.down(workspace)
    render.success(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


def status(json_output: bool = JsonOption, workspace_dir: Path | None = WorkspaceOption) -> None:
    """Each service's state, pid, uptime, restarts and last probe (like `pm2 ls`). Exits 3 when no
    orchestrator runs (the configured services are then listed as stopped, or orphaned)."""
    workspace = find_workspace(workspace_dir)
    result = launcher.status(workspace, _plan_or_none(workspace))
    workers = _workers(workspace) if result.ok else None
    if json_output:
        render.as_json({**result.to_dict(), "workers": workers})
    else:
        _print_status(result)
        _print_workers(workers)
    if not result.ok:
        raise typer.Exit(NotRunningError.exit_code)


def _workers(workspace: Workspace) -> list[dict[str, Any]] | None:
    """Every worker the queue has heard from, on any host; None when the queue cannot say at once."""
    from autonomic import api_token
    from autonomic.queue.client import QueueClient

    try:
        settings = config.load(workspace).queue
        if not settings.enabled:
            return None
        with QueueClient(
            settings.url, api_token.for_client(workspace), worker_name="cli", timeout=2.0
        ) as client:
            return client.workers()
    except AutonomicError:
        return None


def _print_workers(workers: list[dict[str, Any]] | None) -> None:
    if not workers:
        return
    rows = []
    for worker in workers:
        info = worker.get("info") or {}
        rows.append(
            [
                worker["name"],
                info.get("host"),
                "live" if worker.get("live") else "gone",
                f"{info.get('running', 0)}/{info.get('concurrency', '?')}",
                ", ".join(info.get("types") or []) or "any",
                f"{format_duration(float(worker.get('age_sec', 0)))} ago",
            ]
        )
    render.table(["worker", "host", "state", "running", "types", "last heard"], rows)


def _plan_or_none(workspace: Workspace) -> Plan | None:
    """The configured services; a broken config still lets `status` show what runs."""
    try:
        return config.plan(config.load(workspace), workspace)
    except ConfigError as exc:
        render.warn(f"warning: {exc}")
        return None


def _print_status(result: StatusReply) -> None:
    orchestrator = result.orchestrator
    if orchestrator:
        render.info(f"orchestrator pid {orchestrator.pid}, up {format_duration(orchestrator.uptime)}")
    else:
        render.warn("orchestrator: not running (run 'autonomic up')")
    now = time.time()
    rows = [
        [
            service.name,
            service.shown_state,
            service.pid,
            format_duration(service.uptime) if service.uptime is not None else None,
            service.restarts,
            _shown_detail(service, now),
        ]
        for service in result.services
    ]
    render.table(["service", "state", "pid", "uptime", "restarts", "last probe / detail"], rows)
    problems = [*(orchestrator.problems if orchestrator else [])]
    problems += [f"{s.name}: {p}" for s in result.services for p in s.problems]
    for problem in problems:
        render.warn(f"problem: {problem}")


def _shown_detail(service: ServiceStatus, now: float) -> str:
    """What a person needs in one cell: why it is not running and when it is tried again; else the probe."""
    state = service.state
    if state in (ServiceState.FATAL, ServiceState.BACKOFF, ServiceState.RESTARTING) and service.retry_at:
        left = service.retry_at - now
        when = f"next try in {format_duration(left)}" if left >= 1 else "restarting now"
        return f"{service.detail}; {when}" if service.detail else when
    probe = service.last_probe
    if state is ServiceState.RUNNING and probe is not None:
        return ("ok: " if probe.ok else "failing: ") + probe.detail
    return service.detail


def _why(service: ServiceStatus) -> str:
    return service.blocked or _shown_detail(service, time.time()) or service.shown_state


def start(
    service: str = typer.Argument(..., help="The service to start."),
    workspace_dir: Path | None = WorkspaceOption,
) -> None:
    """Start one service and wait until it runs (or says why not)."""
    _one(workspace_dir, Command.START, service)


def stop(
    service: str = typer.Argument(..., help="The service to stop."),
    workspace_dir: Path | None = WorkspaceOption,
) -> None:
    """Stop one service (it stays stopped until started again)."""
    _one(workspace_dir, Command.STOP, service)


def restart(
    service: str = typer.Argument(..., help="The service to restart."),
    workspace_dir: Path | None = WorkspaceOption,
) -> None:
    """Stop and start one service, and wait until it runs (or says why not)."""
    _one(workspace_dir, Command.RESTART, service)


def _one(workspace_dir: Path | None, command: Command, service: str) -> None:
    workspace = find_workspace(workspace_dir)
    plan = config.plan(config.load(workspace), workspace)
    launcher.known(plan, service)
    spec = plan.service(service)
    timeout = (spec.ready_timeout if spec else 60.0) + 10.0
    reached = launcher.service_command(workspace, command, service, timeout=timeout)
    shown = f"{service}: {reached.shown_state}" + (f" (pid {reached.pid})" if reached.pid else "")
    if command is Command.STOP or reached.state is ServiceState.RUNNING:
        render.success(shown)
        return
    render.info(shown)
    raise AutonomicError(f"{service}: {_why(reached)}")


def logs(
    service: str | None = typer.Argument(None, help="One service (default: all of them)."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines."),
    lines: int = typer.Option(20, "--lines", "-n", min=0, help="How many recent lines to show."),
    workspace_dir: Path | None = WorkspaceOption,
) -> None:
    """Show the recent output of one or all services, optionally following it."""
    workspace = find_workspace(workspace_dir)
    names = _log_names(workspace, service)
    prefix = len(names) > 1
    for name in names:
        for line in logfile.tail(workspace.service_log(name), lines):
            render.raw(f"{name} | {line}" if prefix else line)
    if follow:
        with contextlib.suppress(KeyboardInterrupt):
            for name, line in logfile.follow({n: workspace.service_log(n) for n in names}):
                render.raw(f"{name} | {line}" if prefix else line)


def _log_names(workspace: Workspace, service: str | None) -> list[str]:
    plan = config.plan(config.load(workspace), workspace)
    if service is None:
        return [s.name for s in plan.services]
    if not workspace.service_log(service).exists():
        launcher.known(plan, service)
    return [service]


def register(app: typer.Typer) -> None:
    """Add the service commands to the root app."""
    for command in (init, up, down, status, start, stop, restart, logs):
        app.command()(command)
