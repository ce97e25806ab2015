"""Writing our tasks into (and out of) the workspace's `.vscode/tasks.json`, atomically."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from autonomic import atomic
from autonomic.errors import UsageError
from autonomic.vscode import tasks
from autonomic.vscode.tasksfile import EMPTY, TasksFile
from autonomic.workspace import Workspace

AUTOMATIC_TASKS_NOTE = (
    "VS Code runs the bring-up task on folder open only when automatic tasks are allowed and the folder "
    'is trusted: run "Tasks: Manage Automatic Tasks" -> "Allow Automatic Tasks" (setting '
    '"task.allowAutomaticTasks": "on") and trust this folder (Workspace Trust).'
)


@dataclass
class Outcome:
    path: str
    written: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    removed: int = 0
    deleted: bool = False


def install(
    workspace: Workspace, available: Callable[[tuple[str, ...]], bool], interpreter: str | None = None
) -> Outcome:
    """Add or update our tasks (those whose command exists), keeping the user's tasks and comments."""
    path = workspace.vscode_tasks
    edited = TasksFile(_read(path), str(path))
    ours, left_out = tasks.wanted(interpreter or sys.executable, str(workspace.root), available)
    edited.install(ours, tasks.LABELS)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(path, edited.output, 0o644)
    return Outcome(str(path), [t["label"] for t in ours], left_out)


def uninstall(workspace: Workspace) -> Outcome:
    """Remove our tasks only; a file that then holds nothing but the empty skeleton we wrote is deleted."""
    path = workspace.vscode_tasks
    text = _read(path)
    if not text.strip():
        return Outcome(str(path))
    edited = TasksFile(text, str(path))
    removed = edited.uninstall(tasks.LABELS)
    if edited.text == EMPTY:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return Outcome(str(path), removed=removed, deleted=True)
    if removed:
        atomic.write_text(path, edited.output, 0o644)
    return Outcome(str(path), removed=removed)


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")  # bytes: keep \r\n for TasksFile to see
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read it ({exc}); not changed") from None
