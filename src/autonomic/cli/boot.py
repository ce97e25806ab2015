"""`autonomic boot register | unregister | status`: the orchestrator of this workspace at logon."""

from __future__ import annotations

from pathlib import Path

import typer

from autonomic import config
from autonomic.cli import render
from autonomic.cli.options import JsonOption, WorkspaceOption, find_workspace
from autonomic.platform import registration
from autonomic.platform.host import Host
from autonomic.platform.registration import Registration
from autonomic.workspace import Workspace

boot_app = typer.Typer(
    name="boot",
    help="Start this workspace's orchestrator at logon (systemd, launchd, Task Scheduler, cron, XDG).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(boot_app, name="boot")


@boot_app.command("register")
def register_command(
    linger: bool = typer.Option(
        False, "--linger", help="systemd: also enable lingering, so the stack starts at boot without a login."
    ),
    workspace_dir: Path | None = WorkspaceOption,
) -> None:
    """Register `autonomic up --boot` for this workspace to start at logon ([boot] delay after it)."""
    workspace = find_workspace(workspace_dir)
    settings = config.load(workspace).boot
    host = Host()
    entry = registration.boot_entry(workspace, settings, host)
    for line in registration.register(entry, host):
        render.success(line)
    render.info(f"command: {' '.join(entry.argv)}")
    current = registration.boot_status(workspace, host)
    if current.backend == "systemd":
        from autonomic.platform import systemd

        if linger:
            render.success(systemd.enable_linger(host))
        else:
            render.info(systemd.linger_state(host))
    elif linger:
        render.warn(f"--linger applies to systemd only; registered with {current.backend}")
    if not settings.enabled:
        render.warn("[boot] enabled = false: 'autonomic health --fix' will not re-register this entry")
    show(current)


@boot_app.command("unregister")
def unregister_command(workspace_dir: Path | None = WorkspaceOption) -> None:
    """Remove exactly what `boot register` wrote for this workspace."""
    unregister(named_workspace(workspace_dir), registration.Purpose.BOOT, "nothing was registered")


@boot_app.command("status")
def status_command(json_output: bool = JsonOption, workspace_dir: Path | None = WorkspaceOption) -> None:
    """What is registered, whether it is enabled, whether it points here. Exit 1 unless all three."""
    report(registration.boot_status(named_workspace(workspace_dir)), json_output)


def named_workspace(workspace_dir: Path | None) -> Workspace:
    """The workspace to look up: `--workspace` as given even when its folder or config is gone (so a
    registration left behind by a deleted workspace can be seen and removed), else the nearest one."""
    if workspace_dir is not None:
        return Workspace.at(workspace_dir)
    return find_workspace(None)


def unregister(workspace: Workspace, purpose: registration.Purpose, nothing: str) -> None:
    """Remove this workspace's registration for `purpose` and say what went (or that nothing was there)."""
    said = registration.unregister(workspace, purpose)
    for line in said:
        render.success(line)
    if not said:
        render.info(f"{nothing} for this workspace; nothing changed")


def report(current: Registration, json_output: bool) -> None:
    """A `status` answer: for people or as JSON; exit 1 unless registered, enabled and pointing here."""
    if json_output:
        render.as_json(current.to_dict())
    else:
        show(current)
    if not current.ok:
        raise typer.Exit(1)


def show(current: Registration) -> None:
    """A registration for people: one verdict line, then where and what."""
    if current.ok:
        render.success(f"ok: registered with {current.backend}, enabled, points at this workspace")
    elif not current.registered:
        render.warn(current.detail)
        return
    else:
        problems = [
            word
            for word, bad in (
                ("not enabled", not current.enabled),
                ("does not point here", not current.points_here),
            )
            if bad
        ]
        render.warn(f"registered with {current.backend}, but {' and '.join(problems)}")
    render.info(f"where: {current.where}")
    render.info(f"detail: {current.detail}")
