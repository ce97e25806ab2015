"""`autonomic watchdog`: run the Self-Healing Watchdog in the foreground (the orchestrator runs it as the
core service `watchdog`; by hand it is mostly for seeing what it does)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from autonomic import config
from autonomic.cli.options import WorkspaceOption, find_workspace
from autonomic.watchdog.settings import service_spec


def watchdog(workspace_dir: Path | None = WorkspaceOption) -> None:
    """Watch the orchestrator and every service (one watchdog per workspace; a second exits at once)."""
    workspace = find_workspace(workspace_dir)
    argv = service_spec(config.load(workspace).watchdog, workspace).argv
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        os.execv(argv[0], argv)  # shed the CLI's imports: the watchdog runs lean in this same pid
    from autonomic.watchdog.__main__ import main

    raise typer.Exit(main(argv[3:]))


def register(app: typer.Typer) -> None:
    app.command()(watchdog)
