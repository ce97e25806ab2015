"""Backup test support: a real workspace (with a git repository, configs, outputs and logs)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from autonomic import config
from autonomic.backup.runner import Backups
from autonomic.backup.sources import queue_database
from autonomic.clock import Clock
from autonomic.workspace import Workspace
from tests.queue.support import make_workspace

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


def git(root: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(root), *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **GIT_ENV},
        timeout=30,
    )
    return result.stdout


def populate(workspace: Workspace) -> None:
    """The files a lived-in workspace has: secrets, configs, reports, logs, and a git history."""
    root = workspace.root
    workspace.env_file.write_text("API_KEY=s3cr3t-value\n", encoding="utf-8")
    os.chmod(workspace.env_file, 0o600)
    (root / "config.json").write_text('{"mode": "prod"}\n', encoding="utf-8")
    workspace.vscode_dir.mkdir(exist_ok=True)
    workspace.vscode_tasks.write_text('{"version": "2.0.0", "tasks": []}\n', encoding="utf-8")
    (workspace.vscode_dir / "settings.json").write_text("{}\n", encoding="utf-8")
    workspace.outputs.mkdir(exist_ok=True)
    (workspace.outputs / "monitoring_report_latest.md").write_text("# report\n", encoding="utf-8")
    (workspace.outputs / "realtime_summary_latest.json").write_text('{"ok": true}\n', encoding="utf-8")
    (workspace.outputs / "scratch.txt").write_text("not backed up\n", encoding="utf-8")
    workspace.watchdog_log.write_text('{"action": "check"}\n', encoding="utf-8")
    workspace.logs.mkdir(exist_ok=True)
    workspace.service_log("worker").write_text("worker started\n", encoding="utf-8")
    old = workspace.service_log("ancient")
    old.write_text("long ago\n", encoding="utf-8")
    os.utime(old, (1_000_000_000, 1_000_000_000))
    (root / "app.py").write_text("print('v1')\n", encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "autonomic.toml", "app.py", ".gitignore", "config.json")
    git(root, "commit", "-q", "-m", "first")
    git(root, "remote", "add", "origin", "https://alice:ghp_TOKEN123@example.com/alice/proj.git")


@pytest.fixture
def workspace(tmp_workspace: Path) -> Workspace:
    ws = make_workspace(tmp_workspace)
    ws.ensure_dirs()
    populate(ws)
    return ws


def backups_for(workspace: Workspace, clock: Clock | None = None) -> Backups:
    settings = config.load(workspace)
    return Backups(workspace, settings.backup, queue_database(workspace, settings.queue.store), clock)


def set_backup(workspace: Workspace, lines: str) -> None:
    """Replace the [backup] table's settings with `lines`."""
    text = workspace.config_file.read_text(encoding="utf-8")
    head, _, tail = text.partition("[backup]")
    rest = tail.split("\n[", 1)
    after = "\n[" + rest[1] if len(rest) == 2 else ""
    workspace.config_file.write_text(f"{head}[backup]\n{lines.strip()}\n{after}", encoding="utf-8")
