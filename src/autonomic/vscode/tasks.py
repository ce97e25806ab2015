"""The VS Code tasks SEED.md names, each running the matching `autonomic` command with an absolute
interpreter path (the workspace's own), so a task works whatever is on VS Code's PATH."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

BRINGUP_LABEL = "Auto: Bring-up on VS Code Open (safe)"


@dataclass(frozen=True)
class TaskDef:
    label: str
    args: tuple[str, ...]  # the autonomic command: ("health", "--fix")
    detail: str
    on_open: bool = False

    @property
    def command(self) -> tuple[str, ...]:
        """The command words (options dropped), to ask whether the CLI has it."""
        return tuple(a for a in self.args if not a.startswith("-"))

    def render(self, interpreter: str, root: str) -> dict[str, Any]:
        task: dict[str, Any] = {
            "label": self.label,
            "type": "process",
            "command": interpreter,
            "args": ["-m", "autonomic", *self.args, "--workspace", root],
            "options": {"cwd": root},
            "detail": f"autonomic {' '.join(self.args)}: {self.detail}",
            "problemMatcher": [],
            "presentation": {"reveal": "always", "panel": "dedicated", "clear": True, "focus": False},
        }
        if self.on_open:
            # one command, no dependsOn chain through a background task: it cannot stall
            task["runOptions"] = {"runOn": "folderOpen"}
        return task


TASKS: tuple[TaskDef, ...] = (
    TaskDef(
        BRINGUP_LABEL, ("bringup",), "start what is missing, rebuild the reports, show the health box", True
    ),
    TaskDef("🚀 Master: Start Orchestrator", ("up",), "start the orchestrator and every service now"),
    TaskDef("🚀 Master: Register Auto-Start (Boot)", ("boot", "register"), "start at logon"),
    TaskDef("🚀 Master: Unregister Auto-Start", ("boot", "unregister"), "no longer start at logon"),
    TaskDef("🚀 Master: Check Status", ("boot", "status"), "is the boot entry registered here"),
    TaskDef("🔧 Upgrade: Detect and Apply", ("upgrade",), "apply what a git pull brought"),
    TaskDef("🔧 Upgrade: Dry-Run", ("upgrade", "--dry-run"), "show the upgrade plan, apply nothing"),
    TaskDef("🏥 Health: Full System Check", ("health",), "the 8-check dashboard"),
    TaskDef("🏥 Health: Auto-Fix Issues", ("health", "--fix"), "detect, fix, verify"),
    TaskDef("💾 Backup: Register Daily (03:30)", ("backup", "schedule", "register"), "the daily backup"),
    TaskDef("💾 Backup: Run Now", ("backup", "run"), "a snapshot now"),
    TaskDef("💾 Backup: Check Status", ("backup", "status"), "snapshots and the schedule"),
)
LABELS = frozenset(t.label for t in TASKS)


def wanted(
    interpreter: str, root: str, available: Callable[[tuple[str, ...]], bool]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The tasks to write (those whose command exists) and the labels left out for now."""
    tasks = [t.render(interpreter, root) for t in TASKS if available(t.command)]
    missing = [t.label for t in TASKS if not available(t.command)]
    return tasks, missing
