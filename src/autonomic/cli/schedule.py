"""`autonomic backup schedule register | unregister | status`: the daily backup at `[backup] at`, with
catch-up (`schedule_app`, mounted by `cli/backup.py`)."""

from __future__ import annotations

from pathlib import Path

import typer

from autonomic.cli import render
from autonomic.cli.boot import named_workspace, report, show, unregister
from autonomic.cli.options import JsonOption, WorkspaceOption, find_workspace
from autonomic.platform import registration
from autonomic.platform.host import Host

schedule_app = typer.Typer(
    name="schedule",
    help="Run `autonomic backup run` daily for this workspace (catching up a missed run).",
    no_args_is_help=True,
)


@schedule_app.command("register")
def register_command(workspace_dir: Path | None = WorkspaceOption) -> None:
    """Schedule the daily backup at [backup] at (03:30 by default)."""
    workspace = find_workspace(workspace_dir)
    host = Host()
    at = registration.backup_time(workspace)
    entry = registration.backup_entry(workspace, at, host)
    for line in registration.register(entry, host):
        render.success(line)
    render.info(f"daily at {at[0]:02d}:{at[1]:02d}: {' '.join(entry.argv)}")
    show(registration.schedule_status(workspace, host))


@schedule_app.command("unregister")
def unregister_command(workspace_dir: Path | None = WorkspaceOption) -> None:
    """Remove exactly what `backup schedule register` wrote for this workspace."""
    unregister(named_workspace(workspace_dir), registration.Purpose.BACKUP, "no backup was scheduled")


@schedule_app.command("status")
def status_command(json_output: bool = JsonOption, workspace_dir: Path | None = WorkspaceOption) -> None:
    """Whether the daily backup is scheduled, enabled and pointing here. Exit 1 unless all three."""
    report(registration.schedule_status(named_workspace(workspace_dir)), json_output)
