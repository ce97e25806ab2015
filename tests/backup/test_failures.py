"""Issue 13: a target that is missing, full or unwritable gives one clear line and a failed run in the
log, leaves no visible snapshot and never damages an older one."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from autonomic.backup import catalog
from autonomic.workspace import Workspace
from tests.backup.conftest import backups_for, set_backup

PYTHON = sys.executable


def _cli(workspace: Workspace, *args: str, fsize: int | None = None) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return subprocess.run(
        [PYTHON, "-m", "autonomic", *args, "--workspace", str(workspace.root)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
        preexec_fn=limit,  # only sets a resource limit
    )


def _failed_events(workspace: Workspace) -> list[dict[str, object]]:
    lines = workspace.backup_log.read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines]
    return [e for e in events if e["action"] == "backup" and e["status"] == "failed"]


def _single_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_file_size_limit_mid_snapshot_leaves_no_snapshot(workspace: Workspace) -> None:
    first = backups_for(workspace).run().snapshot
    assert first is not None
    (workspace.outputs / "performance_dashboard_latest.md").write_bytes(os.urandom(3 * 1024 * 1024))
    result = _cli(workspace, "backup", "run", fsize=1024 * 1024)
    assert result.returncode == 1
    line = _single_error_line(result.stderr)
    assert "file too large" in line and str(workspace.backups_dir) in line
    assert [s.path for s in catalog.snapshots(workspace.backups_dir)] == [first]
    assert catalog.partials(workspace.backups_dir) == []
    assert _failed_events(workspace)
    assert all(r.ok for r in backups_for(workspace).verify(None))  # the older snapshot is intact


def test_target_that_cannot_be_created(workspace: Workspace) -> None:
    (workspace.root / "blocker").write_text("a file, not a folder\n", encoding="utf-8")
    set_backup(workspace, 'dir = "blocker/backups"')
    result = _cli(workspace, "backup", "run")
    assert result.returncode == 1
    line = _single_error_line(result.stderr)
    assert "cannot create the backup folder" in line and "blocker" in line
    assert _failed_events(workspace)


def test_missing_disk_is_not_silently_replaced_by_a_folder(workspace: Workspace, tmp_path: Path) -> None:
    absent = tmp_path / "unmounted-disk" / "backups"
    set_backup(workspace, f'dir = "{absent.as_posix()}"')
    result = _cli(workspace, "backup", "run")
    assert result.returncode == 1
    assert "is the disk mounted?" in _single_error_line(result.stderr)
    assert not absent.parent.exists()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_target(workspace: Workspace) -> None:
    first = backups_for(workspace).run().snapshot
    os.chmod(workspace.backups_dir, 0o500)
    try:
        result = _cli(workspace, "backup", "run")
    finally:
        os.chmod(workspace.backups_dir, 0o700)
    assert result.returncode == 1
    assert "permission denied" in _single_error_line(result.stderr)
    assert [s.path for s in catalog.snapshots(workspace.backups_dir)] == [first]


def test_bad_config_is_one_line(workspace: Workspace) -> None:
    set_backup(workspace, 'at = "3:75"')
    result = _cli(workspace, "backup", "run")
    assert result.returncode == 2
    assert "backup.at" in _single_error_line(result.stderr)
    assert not workspace.backups_dir.exists()


def test_a_backup_folder_that_is_not_its_own(workspace: Workspace) -> None:
    for folder in (".", "outputs", ".autonomic", ".."):
        set_backup(workspace, f'dir = "{folder}"')
        result = _cli(workspace, "backup", "run")
        assert result.returncode == 2, folder
        assert "backup.dir" in _single_error_line(result.stderr) and "of its own" in result.stderr
    assert not list(workspace.root.glob(".partial-*")) and not list(workspace.outputs.glob("2*"))
