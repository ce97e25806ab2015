"""`autonomic vscode install | uninstall`: the SEED.md tasks in `.vscode/tasks.json`."""

from __future__ import annotations

from pathlib import Path

import typer

from autonomic.cli import render
from autonomic.cli.options import WorkspaceOption, find_workspace

app = typer.Typer(
    help="The SEED.md tasks in .vscode/tasks.json (merged with your own).", no_args_is_help=True
)


def has_command(root: object, words: tuple[str, ...]) -> bool:
    """Whether `autonomic WORDS...` exists under the root command (tasks for missing features wait)."""
    command = root
    for word in words:
        children = getattr(command, "commands", None)
        if not isinstance(children, dict) or word not in children:
            return False
        command = children[word]
    return True


@app.command()
def install(workspace_dir: Path | None = WorkspaceOption) -> None:
    """Write (or update) every task; your own tasks and comments stay."""
    from autonomic.vscode import install as installer  # the JSONC parser costs ~0.1 s: only when used

    root = typer.main.get_command(_root[0]) if _root else None
    outcome = installer.install(find_workspace(workspace_dir), lambda words: has_command(root, words))
    render.success(f"wrote {len(outcome.written)} tasks to {outcome.path}")
    for label in outcome.written:
        render.info(f"  {label}")
    if outcome.left_out:
        render.warn(f"not yet (their commands are not in this installation): {', '.join(outcome.left_out)}")
    render.info(installer.AUTOMATIC_TASKS_NOTE)


@app.command()
def uninstall(workspace_dir: Path | None = WorkspaceOption) -> None:
    """Remove our tasks only."""
    from autonomic.vscode import install as installer

    outcome = installer.uninstall(find_workspace(workspace_dir))
    if outcome.deleted:
        render.success(f"removed {outcome.removed} tasks; {outcome.path} held nothing else and is gone")
    else:
        render.success(f"removed {outcome.removed} tasks from {outcome.path}")


_root: list[typer.Typer] = []  # the whole `autonomic` app, to know which commands this installation has


def register(root: typer.Typer) -> None:
    _root[:] = [root]
    root.add_typer(app, name="vscode")
