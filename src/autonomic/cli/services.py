"""`autonomic init | up | down | status | start | stop | restart | logs`: thin wrappers over the
scaffold, config and supervisor packages."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import typer

from autonomic import config, scaffold
from autonomic.cli import render
from autonomic.cli.options import JsonOption, WorkspaceOption, find_workspace
from autonomic.errors import UsageError
from autonomic.supervisor import launcher, logfile
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
) -> None:
    """Start the orchestrator (if it is not running) and every service, then show their status."""
    workspace = find_workspace(workspace_dir)
    plan = config.plan(config.load(workspace), workspace)
    if foreground:
        _run_foreground(workspace, plan)
        return
    with render.spinner("starting the orchestrator") as update:
        status = launcher.up(workspace, plan, timeout, progress=lambda services: update(_waiting(services)))
    _print_status(status)


def _waiting(services: list[dict[str, Any]]) -> str:
    pending = [f"{s['name']} ({s['state']})" for s in services if s["state"] not in ("running", "stopped")]
    return "waiting for " + ", ".join(pending) if pending else "all services running"


def _run_foreground(workspace: Workspace, plan: Any) -> None:
    launcher.write_plan(workspace, plan)
    argv = launcher.daemon_argv(workspace)
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        os.execv(argv[0], argv)  # shed the CLI's imports: the orchestrator runs lean in this same pid
    from autonomic.supervisor.__main__ import main

    raise typer.Exit(main(argv[3:]))


def down(workspace_dir: Path | None = WorkspaceOption) -> None:
    """Stop every service (dependents first), then the orchestrator."""
    workspace = find_workspace(workspace_dir)
    stopped = launcher.down(workspace)
    render.success(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


def status(json_output: bool = JsonOption, workspace_dir: Path | None = WorkspaceOption) -> None:
    """Each service's state, pid, uptime, restarts and last probe (like `pm2 ls`)."""
    workspace = find_workspace(workspace_dir)
    result = launcher.status(workspace)
    if json_output:
        render.as_json(result)
        return
    _print_status(result)


def _print_status(result: dict[str, Any]) -> None:
    orchestrator = result.get("orchestrator")
    if orchestrator:
        render.info(f"orchestrator pid {orchestrator['pid']}, up {format_duration(orchestrator['uptime'])}")
    else:
        render.warn("orchestrator: not running (run 'autonomic up')")
    rows = []
    for service in result["services"]:
        probe = service.get("last_probe") or {}
        shown_probe = ("ok: " if probe.get("ok") else "failing: ") + probe["detail"] if probe else ""
        rows.append(
            [
                service["name"],
                service["state"],
                service.get("pid"),
                format_duration(service["uptime"]) if service.get("uptime") is not None else None,
                service.get("restarts"),
                shown_probe or service.get("detail"),
            ]
        )
    render.table(["service", "state", "pid", "uptime", "restarts", "last probe"], rows)


def start(
    service: str = typer.Argument(..., help="The service to start."),
    workspace_dir: Path | None = WorkspaceOption,
) -> None:
    """Start one service."""
    _one(workspace_dir, "start", service)


def stop(
    service: str = typer.Argument(..., help="The service to stop."),
    workspace_dir: Path | None = WorkspaceOption,
) -> None:
    """Stop one service (it stays stopped until started again)."""
    _one(workspace_dir, "stop", service)


def restart(
    service: str = typer.Argument(..., help="The service to restart."),
    workspace_dir: Path | None = WorkspaceOption,
) -> None:
    """Stop and start one service."""
    _one(workspace_dir, "restart", service)


def _one(workspace_dir: Path | None, command: str, service: str) -> None:
    snapshot = launcher.service_command(find_workspace(workspace_dir), command, service)
    render.success(
        f"{service}: {snapshot['state']}" + (f" (pid {snapshot['pid']})" if snapshot["pid"] else "")
    )


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
        _follow(workspace, names, prefix)


def _log_names(workspace: Workspace, service: str | None) -> list[str]:
    known = [s.name for s in config.plan(config.load(workspace), workspace).services]
    if service is None:
        return known
    if service not in known and not workspace.service_log(service).exists():
        raise UsageError(f"no service named {service!r} (known: {', '.join(known) or 'none'})")
    return [service]


def _follow(workspace: Workspace, names: list[str], prefix: bool) -> None:
    positions = {name: _size(workspace.service_log(name)) for name in names}
    try:
        while True:
            for name in names:
                path = workspace.service_log(name)
                size = _size(path)
                if size < positions[name]:
                    positions[name] = 0  # rotated: the file was truncated
                if size > positions[name]:
                    with open(path, "rb") as handle:
                        handle.seek(positions[name])
                        chunk = handle.read(size - positions[name]).decode("utf-8", "replace")
                    positions[name] = size
                    for line in chunk.splitlines(keepends=True):
                        render.raw(f"{name} | {line}" if prefix else line)
            time.sleep(0.2)
    except KeyboardInterrupt:
        return


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def register(app: typer.Typer) -> None:
    """Add the service commands to the root app."""
    for command in (init, up, down, status, start, stop, restart, logs):
        app.command()(command)
