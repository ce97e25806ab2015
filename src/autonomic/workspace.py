"""The one place that knows where a workspace keeps its files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from autonomic.errors import WorkspaceError

CONFIG_NAME = "autonomic.toml"
ENV_VAR = "AUTONOMIC_WORKSPACE"


@dataclass(frozen=True)
class Workspace:
    """A user's project folder managed by autonomic. Every path below it is built here and only here."""

    root: Path

    @classmethod
    def at(cls, root: Path | str) -> Workspace:
        return cls(Path(root).expanduser().resolve())

    @classmethod
    def find(cls, start: Path | str | None = None) -> Workspace:
        """The workspace named by `start`, by $AUTONOMIC_WORKSPACE, or the nearest folder up with a config."""
        if start is not None:
            workspace = cls.at(start)
            if not workspace.config_file.is_file():
                raise WorkspaceError(f"{workspace.root}: no {CONFIG_NAME} here (run 'autonomic init' first)")
            return workspace
        if env := os.environ.get(ENV_VAR):
            return cls.find(env)
        here = Path.cwd().resolve()
        for folder in (here, *here.parents):
            if (folder / CONFIG_NAME).is_file():
                return cls(folder)
        raise WorkspaceError(f"no {CONFIG_NAME} in {here} or above it (run 'autonomic init' first)")

    # --- what the user sees -------------------------------------------------------------
    @property
    def config_file(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def env_file(self) -> Path:
        return self.root / ".env"

    @property
    def gitignore(self) -> Path:
        return self.root / ".gitignore"

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def service_log(self, service: str) -> Path:
        return self.logs / f"{service}.log"

    @property
    def orchestrator_log(self) -> Path:
        return self.outputs / "master_orchestrator_log.jsonl"

    @property
    def watchdog_log(self) -> Path:
        return self.outputs / "watchdog_log.jsonl"

    @property
    def upgrade_log(self) -> Path:
        return self.outputs / "auto_upgrade_log.jsonl"

    @property
    def backup_log(self) -> Path:
        return self.outputs / "backup_log.jsonl"

    @property
    def metrics_file(self) -> Path:
        """The Monitoring Daemon's samples, one JSON object a line."""
        return self.outputs / "system_metrics.jsonl"

    @property
    def alerts_file(self) -> Path:
        return self.outputs / "alerts.jsonl"

    @property
    def backups_dir(self) -> Path:
        """The default backup target (`[backup] dir` may point elsewhere)."""
        return self.root / "backups"

    @property
    def vscode_dir(self) -> Path:
        return self.root / ".vscode"

    @property
    def vscode_tasks(self) -> Path:
        return self.vscode_dir / "tasks.json"

    # --- runtime state ------------------------------------------------------------------
    @property
    def state_dir(self) -> Path:
        return self.root / ".autonomic"

    @property
    def lock_file(self) -> Path:
        return self.state_dir / "orchestrator.lock"

    @property
    def verbs_lock(self) -> Path:
        """Held by `up` and `down` (and the watchdog's restart) so that they take turns."""
        return self.state_dir / "verbs.lock"

    @property
    def control_file(self) -> Path:
        """Where the running orchestrator publishes its control address and secret (0600)."""
        return self.state_dir / "control.json"

    @property
    def plan_file(self) -> Path:
        """The resolved service plan the CLI hands to the orchestrator."""
        return self.state_dir / "plan.json"

    @property
    def records_dir(self) -> Path:
        return self.state_dir / "pids"

    def record_file(self, service: str) -> Path:
        return self.records_dir / f"{service}.json"

    @property
    def token_file(self) -> Path:
        """The queue API token (0600), created by `autonomic init`."""
        return self.state_dir / "token"

    @property
    def queue_db(self) -> Path:
        return self.state_dir / "queue.db"

    def heartbeat_file(self, service: str) -> Path:
        """The file a core service (worker, monitor, watchdog) touches while its loop is alive."""
        return self.state_dir / f"{service}.heartbeat"

    @property
    def upgrade_state(self) -> Path:
        """The last applied commit and the commits refused as bad."""
        return self.state_dir / "upgrade.json"

    @property
    def upgrade_lock(self) -> Path:
        """Held while an upgrade runs, so two never run at once."""
        return self.state_dir / "upgrade.lock"

    @property
    def upgrade_dir(self) -> Path:
        """Upgrade working files: the dependency set before the last upgrade (for a rollback)."""
        return self.state_dir / "upgrade"

    @property
    def watchdog_lock(self) -> Path:
        """Held by the one watchdog of the workspace."""
        return self.state_dir / "watchdog.lock"

    @property
    def health_log(self) -> Path:
        """What `autonomic health --fix` found and did, one JSON object a line."""
        return self.outputs / "health_log.jsonl"

    def ensure_dirs(self) -> None:
        for folder in (self.outputs, self.logs, self.state_dir, self.records_dir):
            folder.mkdir(parents=True, exist_ok=True)
        if os.name == "posix":
            os.chmod(self.state_dir, 0o700)
