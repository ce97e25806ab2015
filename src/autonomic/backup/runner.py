"""`backup run` and `backup prune`: one run at a time per backup folder, every run in the backup log."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from autonomic.backup import catalog, restore, retention
from autonomic.backup.errors import BackupError, os_reason
from autonomic.backup.manifest import Manifest
from autonomic.backup.queuegate import QueueControl
from autonomic.backup.settings import BackupSettings
from autonomic.backup.snapshot import ProgressFn, SnapshotBuilder
from autonomic.backup.sources import Section
from autonomic.backup.verify import Verification, Verifier
from autonomic.clock import Clock, SystemClock
from autonomic.errors import AutonomicError, ConfigError
from autonomic.eventlog import EventLog
from autonomic.platform.lock import ProcessLock
from autonomic.workspace import Workspace

OVERDUE_AFTER = 24 * 3600.0


@dataclass
class RunOutcome:
    """What a `backup run` did: a new snapshot, or nothing because the last one is recent enough."""

    snapshot: Path | None
    manifest: Manifest | None
    seconds: float
    pruned: list[str] = field(default_factory=list)
    cleaned: list[str] = field(default_factory=list)
    not_due: str = ""


@dataclass
class RestoreRequest:
    snapshot_id: str
    only: set[Section]
    to: Path | None = None
    dry_run: bool = False
    force: bool = False
    stop_queue: bool = False
    queue: QueueControl | None = None


@dataclass
class RestoreOutcome:
    plan: restore.RestorePlan
    written: list[restore.Item]
    safety: Path | None
    queue_blocker: str


class Backups:
    """The backup folder of one workspace and the operations on it."""

    def __init__(
        self,
        workspace: Workspace,
        settings: BackupSettings,
        queue_db: Path | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.workspace = workspace
        self.settings = settings
        self.target = settings.target(workspace.root)
        self.queue_db = queue_db
        self.clock = clock or SystemClock()
        self.log = EventLog(workspace.backup_log)

    def run(
        self,
        reason: str = "manual",
        if_overdue: bool = False,
        progress: ProgressFn | None = None,
        prune: bool = True,
    ) -> RunOutcome:
        """Take a snapshot (unless `if_overdue` and the newest good one is under 24 h old), then prune."""
        started = self.clock.monotonic()
        if if_overdue and (why := self._not_due()):
            return RunOutcome(None, None, 0.0, not_due=why)
        try:
            with self.locked():
                cleaned = catalog.remove_partials(self.target)
                built = SnapshotBuilder(
                    self.workspace, self.settings, self.target, self.queue_db, self.clock, progress
                ).build(reason)
                pruned = self._prune_locked(dry_run=False) if prune else []
        except BackupError as exc:
            self._event("backup", "-", "failed", str(exc), reason=reason)
            raise
        outcome = RunOutcome(built.path, built.manifest, self.clock.monotonic() - started, pruned, cleaned)
        self._log_run(outcome, reason)
        return outcome

    def prune(self, dry_run: bool = False) -> list[retention.Decision]:
        """Apply retention now; returns every decision (deleted ones have no reason to be kept)."""
        with self.locked():
            decisions = retention.decide(catalog.snapshots(self.target), self.settings, self.clock.time())
            if not dry_run:
                self._delete([d for d in decisions if not d.keep])
        return decisions

    def verify(self, snapshot_id: str | None, progress: ProgressFn | None = None) -> list[Verification]:
        """Recompute the checksums of one snapshot (or of all); each outcome goes to the log."""
        chosen = [catalog.find(self.target, snapshot_id)] if snapshot_id else catalog.snapshots(self.target)
        if not chosen:
            raise BackupError(f"{self.target}: no snapshot to verify (run 'autonomic backup run')")
        verifier = Verifier(progress, self.clock)
        results = []
        for snapshot in chosen:
            result = verifier.verify(snapshot)
            if not snapshot.path.exists() and snapshot_id is None:
                continue  # pruned while it was being read: nothing left to judge
            status = "ok" if result.ok else "failed"
            details = (
                f"{result.checked} files, {result.bytes} bytes"
                if result.ok
                else "; ".join(str(p) for p in result.problems[:5])
            )
            self._event("verify", snapshot.id, status, details, problems=len(result.problems))
            results.append(result)
        return results

    def restore(self, request: RestoreRequest) -> RestoreOutcome:
        """Restore as `request` says; a safety snapshot is taken first when writing into the workspace."""
        snapshot = catalog.find(self.target, request.snapshot_id)
        wanted = restore.plan(snapshot, self.workspace.root, self.queue_db, request.only, request.to)
        if request.dry_run:
            return RestoreOutcome(wanted, [], None, restore.queue_blocker(wanted, request.queue))
        restore.refuse_conflicts(wanted, request.force)
        restore.refuse_running_queue(wanted, request.queue, request.stop_queue)
        safety = None
        if request.to is None and wanted.writes:
            safety = self.run(reason="pre-restore", prune=False).snapshot
        try:
            with self.locked():
                written = restore.apply(wanted, request.force, request.queue, request.stop_queue)
        except AutonomicError as exc:
            self._event("restore", snapshot.id, "failed", str(exc))
            raise
        self._event(
            "restore",
            snapshot.id,
            "success",
            f"{len(written)} files into {wanted.into}"
            + (f"; safety snapshot {safety.name}" if safety else ""),
            files=[str(item.dest) for item in written],
        )
        return RestoreOutcome(wanted, written, safety, "")

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the backup folder's lock (runs, prunes and restores never overlap)."""
        self._prepare_target()
        lock = ProcessLock(self.target / catalog.LOCK_NAME)
        try:
            acquired = lock.acquire()
        except OSError as exc:
            raise BackupError(f"backup folder {self.target}: {os_reason(exc)}") from None
        if not acquired:
            raise BackupError(f"another backup, prune or restore is running on {self.target}")
        try:
            yield
        finally:
            lock.release()

    def _prepare_target(self) -> None:
        target = self.target
        ws = self.workspace
        shared = (ws.root, ws.outputs, ws.logs, ws.state_dir, ws.vscode_dir, ws.root / ".git")
        if target.resolve() in {p.resolve() for p in shared} or ws.root.is_relative_to(target.resolve()):
            raise ConfigError(f"{ws.config_file.name}: backup.dir: {target} must be a folder of its own")
        if not target.is_dir():
            outside = not target.is_relative_to(self.workspace.root)
            if outside and not target.parent.is_dir():
                raise BackupError(
                    f"backup folder {target}: {target.parent} does not exist (is the disk mounted?)"
                )
            try:
                target.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise BackupError(f"cannot create the backup folder {target}: {os_reason(exc)}") from None
        with contextlib.suppress(OSError):
            if sys.platform != "win32" and target.stat().st_uid == os.getuid():
                os.chmod(target, 0o700)

    def _prune_locked(self, dry_run: bool) -> list[str]:
        decisions = retention.decide(catalog.snapshots(self.target), self.settings, self.clock.time())
        doomed = [d for d in decisions if not d.keep]
        if not dry_run:
            self._delete(doomed)
        return [d.snapshot.id for d in doomed]

    def _delete(self, doomed: list[retention.Decision]) -> None:
        for decision in doomed:
            try:
                retention.delete(decision.snapshot)
            except OSError as exc:
                self._event("prune", decision.snapshot.id, "failed", os_reason(exc))
                raise BackupError(
                    f"cannot delete snapshot {decision.snapshot.path}: {os_reason(exc)}"
                ) from None
            self._event("prune", decision.snapshot.id, "deleted", "older than the retention policy keeps")

    def _not_due(self) -> str:
        last = catalog.last_good_at(self.target)
        if last is None:
            return ""
        age = self.clock.time() - last
        if age >= OVERDUE_AFTER:
            return ""
        return f"the newest good snapshot is {age / 3600:.1f} h old (under 24 h): nothing to do"

    def _log_run(self, outcome: RunOutcome, reason: str) -> None:
        manifest = outcome.manifest
        assert manifest is not None and outcome.snapshot is not None
        details = (
            f"{len(manifest.files)} files, {manifest.total_bytes} bytes ({manifest.new_bytes} new) "
            f"in {outcome.seconds:.2f}s; {len(manifest.skipped)} skipped; pruned {len(outcome.pruned)}"
        )
        self._event(
            "backup",
            manifest.id,
            "success",
            details,
            reason=reason,
            path=str(outcome.snapshot),
            files=len(manifest.files),
            bytes=manifest.total_bytes,
            new_bytes=manifest.new_bytes,
            seconds=round(outcome.seconds, 3),
            pruned=outcome.pruned,
        )

    def _event(self, action: str, target: str, status: str, details: str, **fields: object) -> None:
        with contextlib.suppress(OSError):  # the log may sit on the very disk that is full
            self.log.write(action, target, status, details, **fields)
