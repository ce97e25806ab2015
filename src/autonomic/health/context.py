"""What the checks need to know about a workspace, resolved once from its config."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from autonomic import api_token, config
from autonomic.errors import StateError
from autonomic.supervisor.spec import Plan, ServiceSpec
from autonomic.workspace import Workspace

REPORT_NAMES = (
    "monitoring_report_latest.md",
    "performance_dashboard_latest.md",
    "realtime_summary_latest.json",
)
"""The Monitoring Daemon's reports SEED.md names; check 8 expects them when the monitor is on."""


@dataclass(frozen=True)
class HealthContext:
    workspace: Workspace
    plan: Plan
    queue_port: int | None
    token: str | None
    monitor_interval: float | None  # None: the monitor is off
    boot_wanted: bool
    schedule_wanted: bool
    backups_dir: Path

    @classmethod
    def load(cls, workspace: Workspace) -> HealthContext:
        """From the workspace's autonomic.toml (ConfigError when it is malformed)."""
        settings = config.load(workspace)
        return cls.from_config(workspace, settings)

    @classmethod
    def from_config(cls, workspace: Workspace, settings: config.Config) -> HealthContext:
        return cls(
            workspace=workspace,
            plan=config.plan(settings, workspace),
            queue_port=settings.queue.port if settings.queue.enabled else None,
            token=_read_token(workspace),
            monitor_interval=settings.monitor.interval if settings.monitor.enabled else None,
            boot_wanted=settings.boot.enabled,
            schedule_wanted=settings.backup.schedule,
            backups_dir=settings.backup.target(workspace.root),
        )

    def spec(self, name: str) -> ServiceSpec | None:
        return self.plan.service(name)

    @property
    def interpreter(self) -> str:
        """The Python the services use: the workspace's own `.venv` when it has one (the orchestrator puts
        it first on every service's PATH), else the one the core services run with."""
        venv = (
            self.workspace.root
            / ".venv"
            / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
        )
        if venv.exists() or venv.is_symlink():
            return str(venv)
        core = next((s for s in self.plan.services if s.core), None)
        return core.argv[0] if core else sys.executable

    @property
    def reports(self) -> list[Path]:
        """The report files check 8 expects (none when the monitor is off)."""
        if self.monitor_interval is None:
            return []
        return [self.workspace.outputs / name for name in REPORT_NAMES]


def _read_token(workspace: Workspace) -> str | None:
    """The token health's queue checks send; an unreadable token file shows as a failing check."""
    try:
        return api_token.for_client(workspace)
    except StateError:
        return None
