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

    # --- runtime state ------------------------------------------------------------------
    @property
    def state_dir(self) -> Path:
        return self.root / ".autonomic"

    @property
    def lock_file(self) -> Path:
        return self.state_dir / "orchestrator.lock"

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

    def ensure_dirs(self) -> None:
        for folder in (self.outputs, self.logs, self.state_dir, self.records_dir):
            folder.mkdir(parents=True, exist_ok=True)
        if os.name == "posix":
            os.chmod(self.state_dir, 0o700)
