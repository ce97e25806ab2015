"""Issue 13: verify recomputes every checksum and finds a flipped byte, a missing and an extra file."""

from __future__ import annotations

import json

from autonomic.backup import catalog
from autonomic.backup.catalog import SnapshotState
from autonomic.workspace import Workspace
from tests.backup.conftest import backups_for


def test_a_sound_snapshot_verifies_and_is_marked(workspace: Workspace) -> None:
    backups = backups_for(workspace)
    snap = backups.run().snapshot
    assert snap is not None
    [result] = backups.verify(snap.name)
    assert result.ok and result.checked == len(catalog.load(snap).manifest.files)  # type: ignore[union-attr]
    assert catalog.load(snap).state is SnapshotState.VERIFIED
    event = json.loads(workspace.backup_log.read_text(encoding="utf-8").splitlines()[-1])
    assert (event["action"], event["target"], event["status"]) == ("verify", snap.name, "ok")


def test_verify_detects_a_flipped_byte(workspace: Workspace) -> None:
    backups = backups_for(workspace)
    snap = backups.run().snapshot
    assert snap is not None
    target = snap / "configs/autonomic.toml"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))  # same size: only the checksum can tell
    [result] = backups.verify(snap.name)
    assert not result.ok
    assert [(p.name, p.detail) for p in result.problems] == [
        ("configs/autonomic.toml", "checksum mismatch (content changed or damaged)")
    ]
    assert catalog.load(snap).state is SnapshotState.CORRUPT
    assert catalog.last_good_at(workspace.backups_dir) is None


def test_verify_reports_missing_and_unexpected_files(workspace: Workspace) -> None:
    backups = backups_for(workspace)
    snap = backups.run().snapshot
    assert snap is not None
    (snap / "outputs/monitoring_report_latest.md").unlink()
    (snap / "configs/intruder.txt").write_text("?\n", encoding="utf-8")
    [result] = backups.verify(snap.name)
    details = {p.name: p.detail for p in result.problems}
    assert details["outputs/monitoring_report_latest.md"].startswith("missing")
    assert details["configs/intruder.txt"] == "not in the manifest"


def test_verify_all_reads_shared_files_once_and_reports_each_snapshot(workspace: Workspace) -> None:
    backups = backups_for(workspace)
    first = backups.run().snapshot
    second = backups.run().snapshot
    assert first is not None and second is not None
    assert (first / "configs/.env").stat().st_ino == (second / "configs/.env").stat().st_ino
    (second / "configs/.env").write_text(
        "API_KEY=changed!!!!!\n", encoding="utf-8"
    )  # same size, shared inode
    results = {r.snapshot: r for r in backups.verify(None)}
    assert not results[first.name].ok and not results[second.name].ok
