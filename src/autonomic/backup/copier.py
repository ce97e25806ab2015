"""Puts files into a snapshot being built: hard-linked to the previous snapshot when unchanged, else
copied with their checksum taken on the way; at the end everything is made durable at once and each
copied file is read back from the disk and checked against that checksum.

"Unchanged" is rsnapshot's quick check (same size and modification time as recorded in the previous
manifest), except for files modified in the last seconds before the run, whose time stamp cannot be
trusted to change with their content. A copied file whose content matches any file of the previous
snapshot is replaced by a link to it, so rewritten-but-identical files and rotated logs cost nothing.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from autonomic.backup import durability
from autonomic.backup.errors import BackupError, os_reason
from autonomic.backup.manifest import FileEntry, Manifest
from autonomic.backup.sources import Source

CHUNK = 1024 * 1024
RACY_SECONDS = 2.0  # a file modified this close to the run is copied even if its stat looks unchanged
DIR_MODE = 0o700
FILE_MODE = 0o600

Advance = Callable[[int, str], None]


class SourceUnreadable(Exception):
    """A workspace file vanished or cannot be read: it is listed as skipped, the run goes on."""


@dataclass
class Previous:
    """The snapshot the new one may share files with."""

    folder: Path
    manifest: Manifest
    by_sha: dict[tuple[str, int], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, entry in self.manifest.files.items():
            self.by_sha.setdefault((entry.sha256, entry.size), name)


class Copier:
    def __init__(self, root: Path, previous: Previous | None, hardlink: bool, advance: Advance) -> None:
        self.root = root
        self.previous = previous if hardlink else None
        self.advance = advance
        self.started = time.time()
        self._trusted_before_ns = int((self.started - RACY_SECONDS) * 1e9)
        self._previous_files = self.previous.manifest.files if self.previous else {}
        self._previous_root = str(self.previous.folder) if self.previous else ""
        self.new_bytes = 0
        self._root = str(root)
        self._dirs: set[str] = {self._root}
        self._fresh: list[tuple[Path, str, str]] = []  # (file, sha256, name) written by this run

    def copy(self, source: Source) -> FileEntry:
        """Store `source`; linked if unchanged since the previous snapshot."""
        name = source.name
        dest = f"{self._root}/{name}"  # plain strings: this runs once per file, 10,000 times a run
        folder = dest.rpartition("/")[0]
        if folder not in self._dirs:
            self._ensure_dir(folder)
        before = self._previous_files.get(name)
        if (
            before is not None
            and before.size == source.size
            and before.mtime_ns == source.mtime_ns
            and source.mtime_ns < self._trusted_before_ns
            and _link(f"{self._previous_root}/{name}", dest)
        ):
            self.advance(source.size, name)
            return FileEntry(before.size, before.sha256, source.label, source.mtime_ns, source.mode)
        try:
            handle = open(source.path, "rb")  # noqa: SIM115 - closed below; opened apart to tell read errors
        except OSError as exc:
            raise SourceUnreadable(os_reason(exc)) from None
        with handle:
            size, digest = self._write_from(handle, Path(dest), source.name)
        self._keep(Path(dest), digest, size, source.name)
        return FileEntry(size, digest, source.label, source.mtime_ns, source.mode)

    def add_bytes(self, name: str, data: bytes, label: str) -> FileEntry:
        """Store generated content (git state, patch) as `name`."""
        dest = self.root / name
        self.ensure_parent(dest)
        digest = hashlib.sha256(data).hexdigest()
        with os.fdopen(_create(dest), "wb") as out:
            out.write(data)
        self._keep(dest, digest, len(data), name)
        return FileEntry(len(data), digest, label, time.time_ns(), FILE_MODE)

    def adopt(self, source: Source) -> FileEntry:
        """Checksum a file already written into the snapshot (the database copy)."""
        dest = self.root / source.name
        os.chmod(dest, FILE_MODE)
        with open(dest, "rb") as handle:
            digest, size = _hash(handle)
        self.advance(size, source.name)
        self._keep(dest, digest, size, source.name)
        return FileEntry(size, digest, source.label, source.mtime_ns, source.mode)

    def ensure_parent(self, dest: Path) -> None:
        self._ensure_dir(str(dest.parent))

    def _ensure_dir(self, folder: str) -> None:
        if folder in self._dirs:
            return
        self._ensure_dir(os.path.dirname(folder))
        with contextlib.suppress(FileExistsError):
            os.mkdir(folder, DIR_MODE)
        os.chmod(folder, DIR_MODE)
        self._dirs.add(folder)

    def finish(self, progress: Callable[[int, int, str], None] | None = None) -> None:
        """Make every file and folder durable, then read each copied file back from the disk."""
        durability.sync_tree(self.root, [path for path, _, _ in self._fresh], [Path(d) for d in self._dirs])
        total = self.new_bytes
        checked = 0
        for path, digest, name in self._fresh:
            checked += self._read_back(path, digest, name)
            if progress is not None:
                progress(checked, total, f"checking {name}")

    def _write_from(self, handle: BinaryIO, dest: Path, name: str) -> tuple[int, str]:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(_create(dest), "wb") as out:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
                self.advance(len(chunk), name)
        return size, digest.hexdigest()

    def _keep(self, dest: Path, digest: str, size: int, name: str) -> None:
        """Share the new file with an identical one of the previous snapshot, or count it as new."""
        match = self.previous.by_sha.get((digest, size)) if self.previous else None
        if match is not None and self.previous is not None:
            spare = dest.with_name(f".{dest.name}.link")
            if _link(self.previous.folder / match, spare):
                os.replace(spare, dest)
                return
        self.new_bytes += size
        self._fresh.append((dest, digest, name))

    def _read_back(self, dest: Path, expected: str, name: str) -> int:
        with open(dest, "rb") as handle:
            if sys.platform == "linux":  # drop the cached pages so the check reads the disk
                os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
            digest, size = _hash(handle)
        if digest != expected:
            raise BackupError(f"{name}: the copy read back differs from what was written (disk error?)")
        return size


def _create(dest: Path) -> int:
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), FILE_MODE)
    if sys.platform != "win32":
        os.fchmod(fd, FILE_MODE)
    return fd


def _hash(handle: BinaryIO) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while chunk := handle.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _link(existing: Path | str, new: Path | str) -> bool:
    """Hard-link `new` to `existing`; False where the file system cannot (then the caller copies)."""
    try:
        os.link(existing, new)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            raise
        return False
    return True
