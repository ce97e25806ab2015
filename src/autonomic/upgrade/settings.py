"""The `[upgrade]` table of autonomic.toml: when the upgrade check runs and how long it may take."""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from autonomic.supervisor.jobs import JobPhase, JobSpec
from autonomic.values import Duration, PositiveDuration
from autonomic.workspace import Workspace


class UpgradeSettings(BaseModel):
    """Auto-upgrade after `git pull`: detect a new commit, install, restart what changed, gate on health."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    """Run the check when the orchestrator starts and every `interval` while it runs."""
    interval: PositiveDuration = 300.0
    """How often the orchestrator looks for a new commit (the git hooks react at once)."""
    health_timeout: PositiveDuration = 60.0
    """How long restarted services get to be running with their probes passing before a rollback."""
    settle: Duration = 3.0
    """How long a restarted service must then stay up (same pid, probe passing) to count as healthy."""
    step_timeout: PositiveDuration = 600.0
    """The longest one install step (pip, npm) may run before it counts as failed."""
    python: str | None = None
    """The interpreter dependencies go to. Default: the workspace's `.venv` if it has one, else the
    interpreter autonomic itself runs under (the one the built-in services use)."""
    pip_args: list[str] = Field(default_factory=list)
    """Extra arguments for every `pip install` (e.g. ["--no-index", "--find-links", "wheels"])."""
    npm_args: list[str] = Field(default_factory=list)
    """Extra arguments for every `npm ci` / `npm install` (e.g. ["--offline"])."""

    def jobs(self, workspace: Workspace) -> list[JobSpec]:
        """The orchestrator's upgrade checks: one before any service starts (installs only: nothing runs
        yet to restart), then one as soon as the services run (it verifies an upgrade applied at start,
        rolling it back if they are unhealthy) and every `interval` after that."""
        if not self.enabled or not in_git_work_tree(workspace.root):
            return []  # no repository, nothing to upgrade: not even a process start for it
        argv = [sys.executable, "-m", "autonomic", "upgrade", "check"]
        where = ["--workspace", str(workspace.root)]
        run_timeout = 3 * self.step_timeout + 2 * self.health_timeout + 120.0
        return [
            JobSpec("upgrade-at-start", [*argv, "--at-start", *where], JobPhase.BEFORE, timeout=run_timeout),
            JobSpec("upgrade", [*argv, *where], JobPhase.AFTER, every=self.interval, timeout=run_timeout),
        ]


def in_git_work_tree(folder: Path) -> bool:
    """Whether `folder` or a folder above it holds a `.git` (cheap: no git process)."""
    return any((parent / ".git").exists() for parent in (folder, *folder.parents))
