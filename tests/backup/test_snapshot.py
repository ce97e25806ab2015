"""Issue 13: the snapshot layout, its manifest, its permissions, hard-link sharing and leftovers."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from autonomic.backup import catalog
from autonomic.backup.catalog import SnapshotState
from autonomic.backup.errors import BackupError
from autonomic.backup.manifest import Manifest
from autonomic.backup.runner import Backups
from autonomic.clock import FakeClock
from autonomic.platform.lock import ProcessLock
from autonomic.workspace import Workspace
from tests.backup.conftest import backups_for, git, set_backup


def _queue_db(workspace: Workspace, rows: int = 3) -> None:
    db = sqlite3.connect(workspace.queue_db)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("CREATE TABLE IF NOT EXISTS t (n INTEGER)")
    db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(rows)])
    db.commit()
    db.close()


def test_layout_and_manifest(workspace: Workspace) -> None:
    _queue_db(workspace)
    outcome = backups_for(workspace).run()
    assert outcome.snapshot is not None and outcome.manifest is not None
    snap = outcome.snapshot
    assert catalog.SNAPSHOT_ID.match(snap.name) and snap.parent == workspace.backups_dir
    files = {p.relative_to(snap).as_posix() for p in snap.rglob("*") if p.is_file()}
    assert {
        "configs/.env",
        "configs/autonomic.toml",
        "configs/config.json",
        "configs/.vscode/tasks.json",
        "configs/.vscode/settings.json",
        "outputs/monitoring_report_latest.md",
        "outputs/realtime_summary_latest.json",
        "logs/watchdog_log.jsonl",
        "logs/worker.log",
        "state/queue.db",
        "state/token",
        "git_state.json",
        "git_uncommitted.patch",
        "MANIFEST.json",
    } <= files
    assert "outputs/scratch.txt" not in files and "logs/ancient.log" not in files  # not a report; too old
    manifest = Manifest.read(snap)
    assert set(manifest.files) == files - {"MANIFEST.json"}
    for name, entry in manifest.files.items():
        data = (snap / name).read_bytes()
        assert entry.size == len(data) and entry.sha256 == hashlib.sha256(data).hexdigest(), name
    assert manifest.files["configs/.env"].source == ".env"
    assert manifest.files["state/queue.db"].source == ".autonomic/queue.db"
    assert not list(workspace.backups_dir.glob(".partial-*"))


def test_git_state_without_credentials(workspace: Workspace) -> None:
    (workspace.root / "app.py").write_text("print('v2')\n", encoding="utf-8")
    (workspace.root / "notes.txt").write_text("untracked\n", encoding="utf-8")
    snap = backups_for(workspace).run().snapshot
    assert snap is not None
    state = json.loads((snap / "git_state.json").read_text(encoding="utf-8"))
    assert state["branch"] == "main" and len(state["head"]) == 40
    assert state["remotes"]["origin"]["fetch"] == "https://example.com/alice/proj.git"
    assert "ghp_TOKEN123" not in (snap / "git_state.json").read_text(encoding="utf-8")
    assert "notes.txt" in state["untracked"]
    assert " M app.py" in state["status_porcelain"]
    assert state["upstream"] is None and state["stash"] == []
    assert b"+print('v2')" in (snap / "git_uncommitted.patch").read_bytes()


def test_not_a_git_repository_is_recorded_as_skipped(workspace: Workspace) -> None:
    import shutil

    shutil.rmtree(workspace.root / ".git")
    manifest = backups_for(workspace).run().manifest
    assert manifest is not None
    assert any(s.source == "git" and "not a git repository" in s.reason for s in manifest.skipped)
    assert "git_state.json" not in manifest.files


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_secrets_only_in_owner_only_files(workspace: Workspace) -> None:
    os.chmod(workspace.env_file, 0o644)  # even a careless .env is stored privately
    snap = backups_for(workspace).run().snapshot
    assert snap is not None
    assert stat.S_IMODE(workspace.backups_dir.stat().st_mode) == 0o700
    secret_holders = []
    for path in [snap, *snap.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path
        if path.is_file() and b"s3cr3t-value" in path.read_bytes():
            secret_holders.append(path.relative_to(snap).as_posix())
    assert secret_holders == ["configs/.env"]
    assert Manifest.read(snap).files["configs/.env"].mode == 0o644  # restored as it was


def test_include_exclude_and_size_limit(workspace: Workspace) -> None:
    (workspace.root / "data").mkdir()
    (workspace.root / "data" / "a.csv").write_text("1,2\n", encoding="utf-8")
    (workspace.root / "data" / "big.csv").write_bytes(b"x" * 5000)
    set_backup(
        workspace,
        'include = ["data/*.csv", "backups/**/*"]\nexclude = ["config.json"]\nmax_file_size = "4KB"',
    )
    manifest = backups_for(workspace).run().manifest
    assert manifest is not None
    assert "configs/data/a.csv" in manifest.files
    assert "configs/config.json" not in manifest.files
    assert not any(name.startswith("configs/backups") for name in manifest.files)
    reasons = {s.source: s.reason for s in manifest.skipped}
    assert "max_file_size" in reasons["data/big.csv"]
    assert "exclude" in reasons["config.json"]


def test_unchanged_snapshots_share_files(workspace: Workspace) -> None:
    big = workspace.outputs / "performance_dashboard_latest.md"
    big.write_bytes(os.urandom(2 * 1024 * 1024))
    clock = FakeClock(1_800_000_000.0)
    backups = backups_for(workspace, clock)
    backups.run()
    one = catalog.disk_usage(workspace.backups_dir)
    for _ in range(13):
        clock.advance(86400)
        backups.run()
    assert len(catalog.snapshots(workspace.backups_dir)) == 14
    fourteen = catalog.disk_usage(workspace.backups_dir)
    assert fourteen < 1.2 * one, (one, fourteen)
    last = catalog.snapshots(workspace.backups_dir)[-1]
    assert last.manifest is not None and last.manifest.new_bytes < 0.05 * last.manifest.total_bytes
    assert (last.path / "outputs/performance_dashboard_latest.md").stat().st_nlink == 14


def test_a_changed_file_is_copied_not_shared(workspace: Workspace) -> None:
    backups = backups_for(workspace, FakeClock(1_800_000_000.0))
    first = backups.run().snapshot
    (workspace.root / "config.json").write_text('{"mode": "test"}\n', encoding="utf-8")
    assert isinstance(backups.clock, FakeClock)
    backups.clock.advance(60)
    second = backups.run().snapshot
    assert first is not None and second is not None
    assert (first / "configs/config.json").read_text(encoding="utf-8") == '{"mode": "prod"}\n'
    assert (second / "configs/config.json").read_text(encoding="utf-8") == '{"mode": "test"}\n'
    assert (first / "configs/.env").stat().st_ino == (second / "configs/.env").stat().st_ino


def test_leftovers_are_cleaned_and_never_listed(workspace: Workspace) -> None:
    backups = backups_for(workspace)
    workspace.backups_dir.mkdir()
    leftover = workspace.backups_dir / ".partial-20250101_033000-999"
    (leftover / "configs").mkdir(parents=True)
    (leftover / "configs" / ".env").write_text("half\n", encoding="utf-8")
    assert catalog.snapshots(workspace.backups_dir) == []
    outcome = backups.run()
    assert outcome.cleaned == [leftover.name] and not leftover.exists()
    assert [s.state for s in catalog.snapshots(workspace.backups_dir)] == [SnapshotState.COMPLETE]


def test_one_run_at_a_time(workspace: Workspace) -> None:
    backups = backups_for(workspace)
    workspace.backups_dir.mkdir()
    lock = ProcessLock(workspace.backups_dir / catalog.LOCK_NAME)
    assert lock.acquire()
    try:
        with pytest.raises(BackupError, match="another backup"):
            backups.run()
    finally:
        lock.release()
    assert catalog.snapshots(workspace.backups_dir) == []


def test_if_overdue_runs_only_after_24_hours(workspace: Workspace) -> None:
    clock = FakeClock(1_800_000_000.0)
    backups = backups_for(workspace, clock)
    assert backups.run(if_overdue=True).snapshot is not None  # none yet: overdue
    clock.advance(23 * 3600)
    skipped = backups.run(if_overdue=True)
    assert skipped.snapshot is None and "23.0 h old" in skipped.not_due
    clock.advance(2 * 3600)
    assert backups.run(if_overdue=True).snapshot is not None
    assert catalog.last_good_at(workspace.backups_dir) == clock.time()


def test_last_good_at_skips_corrupt_and_foreign(tmp_path: Path, workspace: Workspace) -> None:
    assert catalog.last_good_at(tmp_path / "missing") is None
    clock = FakeClock(1_800_000_000.0)
    backups: Backups = backups_for(workspace, clock)
    backups.run()
    clock.advance(3600)
    newer = backups.run().snapshot
    assert newer is not None
    (workspace.backups_dir / "20991231_235959").mkdir()  # named like one, but no manifest
    (newer / "configs/.env").write_text("tampered\n", encoding="utf-8")
    results = backups.verify(newer.name)
    assert not results[0].ok
    assert catalog.last_good_at(workspace.backups_dir) == 1_800_000_000.0


def test_git_upstream_ahead_behind_and_stash(workspace: Workspace, tmp_path: Path) -> None:
    root = workspace.root
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(root, "remote", "add", "mirror", str(bare))
    git(root, "push", "-q", "-u", "mirror", "main")
    (root / "app.py").write_text("print('v3')\n", encoding="utf-8")
    git(root, "commit", "-q", "-am", "second")
    (root / "app.py").write_text("print('stashed')\n", encoding="utf-8")
    git(root, "stash", "-q")
    snap = backups_for(workspace).run().snapshot
    assert snap is not None
    state = json.loads((snap / "git_state.json").read_text(encoding="utf-8"))
    assert state["upstream"] == "mirror/main"
    assert (state["ahead"], state["behind"]) == (1, 0)
    assert len(state["stash"]) == 1 and state["stash"][0].startswith("stash@{0}")
    assert (snap / "git_uncommitted.patch").read_bytes() == b""  # the work was stashed: nothing uncommitted
