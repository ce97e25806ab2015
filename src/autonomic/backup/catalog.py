"""The snapshots in a backup folder: which exist, which are complete, which are good.

Folder names are `YYYYMMDD_HHMMSS` (a `-N` suffix when two runs share a second). Work in progress
lives in `.partial-*` folders beside them, which nothing here ever reports as a snapshot.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from autonomic.backup.manifest import MANIFEST_NAME, Manifest, VerifyRecord
from autonomic.errors import StateError, UsageError

SNAPSHOT_ID = re.compile(r"^\d{8}_\d{6}(?:-\d+)?$")
PARTIAL_PREFIX = ".partial-"
LOCK_NAME = ".lock"


class SnapshotState(StrEnum):
    COMPLETE = "complete"  # written, fsynced and read back by the run that made it
    VERIFIED = "verified"  # and the last `verify` recomputed every checksum without a mismatch
    CORRUPT = "corrupt"  # the last `verify` found a missing, changed or unexpected file
    UNREADABLE = "unreadable"  # named like a snapshot but without a readable manifest (not ours, or damaged)

    @property
    def good(self) -> bool:
        return self in (SnapshotState.COMPLETE, SnapshotState.VERIFIED)


@dataclass(eq=False)
class Snapshot:
    """One snapshot folder. Its time comes from its name and its state from which files it holds, so
    listing and pruning never parse manifests; `manifest` is read on first use."""

    id: str
    path: Path
    state: SnapshotState
    verify: VerifyRecord | None
    _manifest: Manifest | None = field(default=None, repr=False)
    _read: bool = field(default=False, repr=False)

    @property
    def manifest(self) -> Manifest | None:
        if not self._read:
            self._read = True
            with contextlib.suppress(StateError):
                self._manifest = Manifest.read(self.path)
        return self._manifest

    @property
    def created(self) -> float | None:
        """Epoch seconds the snapshot was taken (its folder name, local time); None if it is not ours."""
        return None if self.state is SnapshotState.UNREADABLE else taken_at(self.id)

    @property
    def size(self) -> int:
        return self.manifest.total_bytes if self.manifest else 0

    @property
    def new_bytes(self) -> int:
        return self.manifest.new_bytes if self.manifest else 0


def taken_at(snapshot_id: str) -> float:
    return time.mktime(time.strptime(snapshot_id[:15], "%Y%m%d_%H%M%S"))


def load(path: Path) -> Snapshot:
    """The snapshot in folder `path`, with its state."""
    record = VerifyRecord.read(path)
    if not (path / MANIFEST_NAME).is_file():
        state = SnapshotState.UNREADABLE
    elif record is not None:
        state = SnapshotState.VERIFIED if record.ok else SnapshotState.CORRUPT
    else:
        state = SnapshotState.COMPLETE
    return Snapshot(path.name, path, state, record)


def snapshot_dirs(backups_dir: Path) -> list[Path]:
    """Every folder named like a snapshot, oldest first (names sort by time)."""
    try:
        found = [p for p in backups_dir.iterdir() if SNAPSHOT_ID.match(p.name) and p.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(found, key=lambda p: _sort_key(p.name))


def _sort_key(name: str) -> tuple[str, int]:
    stamp, _, serial = name.partition("-")
    return stamp, int(serial or 0)


def snapshots(backups_dir: Path) -> list[Snapshot]:
    """Every snapshot in `backups_dir`, oldest first."""
    return [load(path) for path in snapshot_dirs(backups_dir)]


def newest_good(backups_dir: Path) -> Snapshot | None:
    """The newest snapshot that is complete and not found corrupt (reads only as many as it needs)."""
    for path in reversed(snapshot_dirs(backups_dir)):
        snapshot = load(path)
        if snapshot.state.good:
            return snapshot
    return None


def last_good_at(backups_dir: Path) -> float | None:
    """Epoch seconds at which the newest complete, not-corrupt snapshot was taken; None if there is none."""
    snapshot = newest_good(backups_dir)
    return snapshot.created if snapshot else None


def find(backups_dir: Path, snapshot_id: str) -> Snapshot:
    """The snapshot named `snapshot_id` ("latest" is the newest good one); UsageError if there is none."""
    if snapshot_id == "latest":
        newest = newest_good(backups_dir)
        if newest is None:
            raise UsageError(f"{backups_dir}: no complete snapshot yet (run 'autonomic backup run')")
        return newest
    if not SNAPSHOT_ID.match(snapshot_id):
        raise UsageError(
            f"{snapshot_id!r} is not a snapshot id (expected YYYYMMDD_HHMMSS; see 'autonomic backup list')"
        )
    path = backups_dir / snapshot_id
    if not path.is_dir():
        raise UsageError(f"no snapshot {snapshot_id} in {backups_dir} (see 'autonomic backup list')")
    return load(path)


def partials(backups_dir: Path) -> list[Path]:
    """Leftovers of runs (or deletions) that did not finish."""
    try:
        return [p for p in backups_dir.iterdir() if p.name.startswith(PARTIAL_PREFIX)]
    except (FileNotFoundError, NotADirectoryError):
        return []


def remove_partials(backups_dir: Path) -> list[str]:
    """Delete the leftovers of unfinished runs; the caller holds the backup lock."""
    removed: list[str] = []
    for path in partials(backups_dir):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path.name)
    return removed


def disk_usage(backups_dir: Path) -> int:
    """Bytes the snapshots really take on disk, counting each hard-linked file once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for path in snapshot_dirs(backups_dir):
        for item in path.rglob("*"):
            stat = item.lstat()
            if (stat.st_dev, stat.st_ino) in seen:
                continue
            seen.add((stat.st_dev, stat.st_ino))
            total += int(getattr(stat, "st_blocks", 0)) * 512 or stat.st_size
    return total
