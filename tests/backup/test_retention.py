"""Issue 13: retention over simulated days; the newest verified snapshot is never deleted."""

from __future__ import annotations

import json

from autonomic.backup import catalog
from autonomic.backup.manifest import VerifyRecord
from autonomic.backup.settings import BackupSettings
from autonomic.clock import FakeClock
from autonomic.workspace import Workspace
from tests.backup.conftest import backups_for, set_backup

DAY = 86400.0
START = 1_800_014_400.0  # Fri 2027-01-15 12:00 UTC: the same date in every time zone within 11 h


def _ids_by_day(workspace: Workspace) -> list[int]:
    return [round(((s.created or 0) - START) / DAY) for s in catalog.snapshots(workspace.backups_dir)]


def test_twenty_daily_runs_keep_fourteen_days(workspace: Workspace) -> None:
    clock = FakeClock(START)
    backups = backups_for(workspace, clock)
    for day in range(20):
        if day:
            clock.advance(DAY)
        backups.run()
    # on day 19 the horizon is day 5: days 5..19 are within 14 days, the rest were pruned one by one
    assert _ids_by_day(workspace) == list(range(5, 20))
    pruned = [
        json.loads(line)["target"]
        for line in workspace.backup_log.read_text(encoding="utf-8").splitlines()
        if json.loads(line)["action"] == "prune"
    ]
    assert len(pruned) == 5
    assert catalog.partials(workspace.backups_dir) == []


def test_keep_daily_and_weekly(workspace: Workspace) -> None:
    set_backup(workspace, "keep_days = 3\nkeep_daily = 5\nkeep_weekly = 4")
    clock = FakeClock(START)
    backups = backups_for(workspace, clock)
    for day in range(40):
        if day:
            clock.advance(DAY)
        backups.run()
    # day 39 is Tue 2027-02-23 (ISO week 8). Within 3 days: 36..39; daily: 35..39;
    # weekly: the newest of weeks 8, 7, 6, 5 -> days 39, 37 (Sun), 30 (Sun), 23 (Sun)
    assert _ids_by_day(workspace) == [23, 30, 35, 36, 37, 38, 39]


def test_the_newest_verified_snapshot_is_never_deleted(workspace: Workspace) -> None:
    clock = FakeClock(START)
    backups = backups_for(workspace, clock)
    verified = backups.run().snapshot
    assert verified is not None
    assert backups.verify(verified.name)[0].ok
    for _ in range(30):
        clock.advance(DAY)
        newer = backups.run().snapshot
        assert newer is not None
        VerifyRecord(clock.time(), False, 1, ["x: checksum mismatch"]).write(newer)  # every later one is bad
    kept = catalog.snapshots(workspace.backups_dir)
    assert verified.name in {s.id for s in kept}  # 30 days old, but the only good one
    assert _ids_by_day(workspace) == [0, *range(16, 31)]  # the bad ones still age out after 14 days


def test_decisions_explain_themselves(workspace: Workspace) -> None:
    clock = FakeClock(START)
    backups = backups_for(workspace, clock)
    backups.run()
    clock.advance(30 * DAY)
    (workspace.backups_dir / "20200101_000000").mkdir()  # not ours: never deleted
    decisions = {d.snapshot.id: d for d in backups.prune(dry_run=True)}
    only_good = next(d for name, d in decisions.items() if name != "20200101_000000")
    assert only_good.keep and "newest good snapshot" in only_good.reasons
    assert decisions["20200101_000000"].keep
    assert len(catalog.snapshots(workspace.backups_dir)) == 2


def test_settings_defaults_and_validation() -> None:
    import pytest
    from pydantic import ValidationError

    settings = BackupSettings()
    assert (settings.at, settings.keep_days, settings.dir, settings.schedule) == (
        "03:30",
        14,
        "backups",
        True,
    )
    assert BackupSettings(at="7:05").at == "07:05"
    for bad in ({"at": "24:00"}, {"at": "noon"}, {"keep_days": 0}, {"include": ["../x"]}, {"dir": " "}):
        with pytest.raises(ValidationError):
            BackupSettings.model_validate(bad)
