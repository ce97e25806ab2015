"""`autonomic export systemd | launchd | compose DIR`: the workspace's services as native units."""

from __future__ import annotations

from pathlib import Path

import typer

from autonomic.cli import render
from autonomic.cli.options import WorkspaceOption, find_workspace


def register(app: typer.Typer) -> None:
    app.command("export")(export)


def export(
    engine: str = typer.Argument(..., help="systemd, launchd or compose."),
    dest: Path = typer.Argument(..., help="The folder to write the files into (created if missing)."),
    name: str | None = typer.Option(
        None, "--name", help="Application name: unit-name prefix, Compose project (default: from the folder)."
    ),
    user: str | None = typer.Option(
        None, "--user", help="systemd: system units that run as this user (default: user units)."
    ),
    image: str | None = typer.Option(None, "--image", help="compose: the image every service runs in."),
    workspace_dir: Path | None = WorkspaceOption,
) -> None:
    """Write this workspace's services as systemd units, launchd agents or a Compose file (like foreman)."""
    from autonomic import config
    from autonomic.errors import UsageError
    from autonomic.export.app import App, app_name
    from autonomic.export.exporter import Format, write
    from autonomic.export.exporter import render as render_files

    try:
        fmt = Format(engine)
    except ValueError:
        raise UsageError(f"unknown engine {engine!r}: expected systemd, launchd or compose") from None
    if user is not None and fmt is not Format.SYSTEMD:
        raise UsageError("--user applies to systemd only")
    if image is not None and fmt is not Format.COMPOSE:
        raise UsageError("--image applies to compose only")
    workspace = find_workspace(workspace_dir)
    loaded = config.load(workspace)
    plan = config.plan(loaded, workspace)
    app = App(app_name(name, workspace.root), workspace.root, plan.services)
    for path in write(dest, render_files(fmt, app, user=user, image=image)):
        render.success(f"wrote {path}")
    render.info(f"see {dest / 'README.txt'} to install them")
