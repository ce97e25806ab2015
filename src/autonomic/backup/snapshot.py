"""Builds one snapshot: in a `.partial-*` folder beside the others, fsynced, then renamed into place.

Until the rename nothing named like a snapshot exists, so a crash, a full disk or a file-size limit
at any point leaves the earlier snapshots as they were and, at worst, a `.partial-*` folder that the
next run removes.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from autonomic import atomic
from autonomic.backup import catalog, gitstate
from autonomic.backup.copier import Copier, Previous, SourceUnreadable
from autonomic.backup.database import copy_database
from autonomic.backup.errors import BackupError, os_reason
from autonomic.backup.manifest import FileEntry, Manifest, Skipped
from autonomic.backup.settings import BackupSettings
from autonomic.backup.sources import Collector, Source
from autonomic.clock import Clock, SystemClock
from autonomic.workspace import Workspace

ProgressFn = Callable[[int, int, str], None]
"""Called as work advances: (bytes done, bytes in total, the file at hand)."""

GIT_STATE = "git_state.json"
GIT_PATCH = "git_uncommitted.patch"


@dataclass(frozen=True)
class Built:
    path: Path
    manifest: Manifest


class SnapshotBuilder:
    """Makes one snapshot of `workspace` in `target`; the caller holds the backup lock."""

    def __init__(
        self,
        workspace: Workspace,
        settings: BackupSettings,
        target: Path,
        queue_db: Path | None,
        clock: Clock | None = None,
        progress: ProgressFn | None = None,
    ) -> None:
        self.workspace = workspace
        self.settings = settings
        self.target = target
        self.queue_db = queue_db
        self.clock = clock or SystemClock()
        self.progress = progress

    def build(self, reason: str = "manual") -> Built:
        started = self.clock.time()
        snapshot_id = self._new_id(started)
        partial = self.target / f"{catalog.PARTIAL_PREFIX}{snapshot_id}-{os.getpid()}"
        try:
            os.mkdir(partial, 0o700)
            manifest = self._fill(partial, snapshot_id, started, reason)
            final = self.target / snapshot_id
            os.rename(partial, final)
            atomic.fsync_dir(self.target)
        except OSError as exc:
            _discard(partial)
            raise BackupError(f"backup to {self.target} failed: {os_reason(exc)}") from None
        except BaseException:
            _discard(partial)
            raise
        return Built(final, manifest)

    def _fill(self, partial: Path, snapshot_id: str, started: float, reason: str) -> Manifest:
        selection = Collector(self.workspace, self.settings, self.queue_db, started).collect()
        total = sum(source.size for source in selection.sources)
        done = 0

        def advance(count: int, name: str) -> None:
            nonlocal done
            done += count
            if self.progress is not None:
                self.progress(done, total, name)

        copier = Copier(partial, self._previous(), self.settings.hardlink, advance)
        manifest = Manifest(snapshot_id, started, started, str(self.workspace.root), reason)
        manifest.skipped.extend(selection.skipped)
        for source in selection.sources:
            self._store(copier, source, manifest)
        self._git(copier, manifest)
        copier.finish(self.progress)
        manifest.new_bytes = copier.new_bytes
        manifest.finished = self.clock.time()
        manifest.write(partial)
        return manifest

    def _store(self, copier: Copier, source: Source, manifest: Manifest) -> None:
        try:
            if source.database:
                manifest.files[source.name] = self._database(copier, source)
            else:
                manifest.files[source.name] = copier.copy(source)
        except SourceUnreadable as exc:
            manifest.skipped.append(Skipped(source.label, f"could not be read: {exc}"))

    def _database(self, copier: Copier, source: Source) -> FileEntry:
        dest = copier.root / source.name
        copier.ensure_parent(dest)
        copy_database(Path(source.path), dest)
        return copier.adopt(source)

    def _git(self, copier: Copier, manifest: Manifest) -> None:
        try:
            captured = gitstate.capture(self.workspace.root)
        except gitstate.GitUnavailable as exc:
            manifest.skipped.append(Skipped("git", str(exc)))
            return
        state = json.dumps(captured.state, indent=2, sort_keys=True).encode() + b"\n"
        manifest.files[GIT_STATE] = copier.add_bytes(GIT_STATE, state, "git")
        manifest.files[GIT_PATCH] = copier.add_bytes(GIT_PATCH, captured.patch, "git diff HEAD")

    def _previous(self) -> Previous | None:
        newest = catalog.newest_good(self.target)
        if newest is None or newest.manifest is None:
            return None
        return Previous(newest.path, newest.manifest)

    def _new_id(self, started: float) -> str:
        stamp = time.strftime("%Y%m%d_%H%M%S", time.localtime(started))
        candidate, serial = stamp, 1
        while (self.target / candidate).exists():
            serial += 1
            candidate = f"{stamp}-{serial}"
        return candidate


def _discard(partial: Path) -> None:
    with contextlib.suppress(OSError):
        shutil.rmtree(partial)
