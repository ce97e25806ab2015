"""Options shared by many commands."""

from __future__ import annotations

from pathlib import Path

import typer

from autonomic.workspace import Workspace

WorkspaceOption = typer.Option(
    None,
    "--workspace",
    "-w",
    help="The workspace folder (default: the nearest one up from here).",
    show_default=False,
)
JsonOption = typer.Option(False, "--json", help="Machine-readable output.")


def find_workspace(path: Path | None) -> Workspace:
    return Workspace.find(path)
