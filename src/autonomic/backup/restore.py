"""`backup restore`: put a snapshot's files back, safely.

Before anything is written: the chosen files are checked against the manifest, files changed since
the snapshot was taken are refused unless forced, the live queue database is replaced only while
the queue server is stopped, and (restoring into the workspace) a safety snapshot of the present
state is taken. Each file is written atomically with its recorded permissions.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from autonomic.backup.catalog import Snapshot
from autonomic.backup.errors import BackupError, RestoreRefused, os_reason
from autonomic.backup.manifest import FileEntry
from autonomic.backup.queuegate import QueueControl
from autonomic.backup.sources import Section
from autonomic.backup.verify import Verifier

CHUNK = 1024 * 1024


class Action(StrEnum):
    CREATE = "create"  # not there now
    REPLACE = "replace"  # there, different, not changed since the snapshot
    SAME = "same"  # already identical: left alone
    NEWER = "newer"  # changed after the snapshot was taken: replaced only with --force


@dataclass(frozen=True)
class Item:
    name: str  # inside the snapshot
    dest: Path
    entry: FileEntry
    action: Action
    database: bool


@dataclass
class RestorePlan:
    snapshot: Snapshot
    into: Path
    items: list[Item] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def writes(self) -> list[Item]:
        return [item for item in self.items if item.action is not Action.SAME]

    @property
    def conflicts(self) -> list[Item]:
        return [item for item in self.items if item.action is Action.NEWER]

    @property
    def database(self) -> Item | None:
        return next((item for item in self.writes if item.database), None)


def plan(
    snapshot: Snapshot, root: Path, queue_db: Path | None, only: set[Section], to: Path | None
) -> RestorePlan:
    """What restoring `only` those sections of `snapshot` into the workspace `root` (or `to`) would do."""
    manifest = snapshot.manifest
    if manifest is None:
        raise BackupError(f"snapshot {snapshot.id} has no readable manifest; it cannot be restored")
    into = (to or root).resolve()
    result = RestorePlan(snapshot, into)
    for name, entry in sorted(manifest.files.items()):
        section = name.split("/", 1)[0]
        if section not in only:
            continue
        dest = _destination(entry.source, name, into, to is not None, queue_db)
        if dest is None:
            result.skipped.append(f"{name}: its source {entry.source} lies outside the workspace")
            continue
        database = (
            section == Section.STATE and queue_db is not None and entry.source == _label(queue_db, root)
        )
        action = _action(dest, entry, snapshot.created or 0.0)
        result.items.append(Item(name, dest, entry, action, database))
    return result


def apply(restore: RestorePlan, force: bool, queue: QueueControl | None, stop_queue: bool) -> list[Item]:
    """Write the plan's files; the caller has taken the safety snapshot. Returns what was written."""
    refuse_conflicts(restore, force)
    _check_snapshot(restore)
    stopped = _stop_queue_if_needed(restore, queue, stop_queue)
    try:
        for item in restore.writes:
            _write(restore.snapshot.path / item.name, item)
    finally:
        if stopped and queue is not None:
            queue.start()
    return restore.writes


def refuse_conflicts(restore: RestorePlan, force: bool) -> None:
    """RestoreRefused if the plan would overwrite files changed since the snapshot, unless forced."""
    if restore.conflicts and not force:
        names = ", ".join(str(item.dest) for item in restore.conflicts[:5])
        more = f" and {len(restore.conflicts) - 5} more" if len(restore.conflicts) > 5 else ""
        raise RestoreRefused(
            f"{len(restore.conflicts)} file(s) changed after snapshot {restore.snapshot.id} was taken "
            f"({names}{more}); nothing restored. Use --force to overwrite them, or --only to restore less"
        )


def queue_blocker(restore: RestorePlan, queue: QueueControl | None) -> str:
    """Why the database in the plan cannot be restored right now ("" when it can)."""
    if restore.database is None or queue is None:
        return ""
    state = queue.state()
    return state.detail if state.running else ""


def refuse_running_queue(restore: RestorePlan, queue: QueueControl | None, stop_queue: bool) -> None:
    """RestoreRefused if the plan replaces the live database, its server runs and may not be stopped."""
    if restore.database is None or queue is None:
        return
    state = queue.state()
    if state.running and not stop_queue:
        raise RestoreRefused(
            f"{state.detail}: the queue database is restored only while the queue server is stopped "
            "(pass --stop-queue, or run 'autonomic stop queue' first); nothing restored"
        )
    if state.running and not state.stoppable:
        raise RestoreRefused(f"{state.detail}, outside the orchestrator: stop it first; nothing restored")


def _stop_queue_if_needed(restore: RestorePlan, queue: QueueControl | None, stop_queue: bool) -> bool:
    if restore.database is None or queue is None:
        return False
    refuse_running_queue(restore, queue, stop_queue)
    if not queue.state().running:
        return False
    queue.stop()
    if queue.state().running:
        raise BackupError("the queue server did not stop; nothing restored")
    return True


def _check_snapshot(restore: RestorePlan) -> None:
    verifier = Verifier()
    for item in restore.writes:
        problem = verifier.check_file(restore.snapshot.path / item.name, item.entry.size, item.entry.sha256)
        if problem:
            raise BackupError(
                f"snapshot {restore.snapshot.id} is damaged: {item.name}: {problem}; nothing restored"
            )


def _destination(label: str, name: str, into: Path, elsewhere: bool, queue_db: Path | None) -> Path | None:
    source = Path(label)
    if source.is_absolute():
        if elsewhere:
            return into / name
        return source if queue_db is not None and source == queue_db else None
    dest = (into / source).resolve()
    return dest if dest.is_relative_to(into) else None


def _label(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _action(dest: Path, entry: FileEntry, taken: float) -> Action:
    try:
        stat = dest.stat()
    except FileNotFoundError:
        return Action.CREATE
    except OSError:
        return Action.REPLACE
    if stat.st_size == entry.size and _sha256(dest) == entry.sha256:
        return Action.SAME
    return Action.NEWER if stat.st_mtime > taken else Action.REPLACE


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
    except OSError:
        return ""
    return digest.hexdigest()


def _write(source: Path, item: Item) -> None:
    dest = item.dest
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".restoring", dir=dest.parent)
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as handle:
                shutil.copyfileobj(handle, out, CHUNK)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, item.entry.mode & 0o777)
            if item.database:
                for suffix in ("-wal", "-shm", "-journal"):  # a stale WAL must never meet the restored file
                    dest.with_name(dest.name + suffix).unlink(missing_ok=True)
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise BackupError(f"restoring {dest} failed: {os_reason(exc)}") from None
