"""`backup verify`: recompute every checksum of a snapshot against its manifest.

Files hard-linked between snapshots are one inode: each is read once per verification, and a
damaged one is reported in every snapshot that shares it (as it should: each of them is damaged).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from autonomic.backup.catalog import Snapshot
from autonomic.backup.errors import os_reason
from autonomic.backup.manifest import MANIFEST_NAME, VERIFY_NAME, VerifyRecord
from autonomic.backup.snapshot import ProgressFn
from autonomic.clock import Clock, SystemClock

CHUNK = 1024 * 1024
OWN_FILES = frozenset({MANIFEST_NAME, VERIFY_NAME})


@dataclass(frozen=True)
class Problem:
    name: str
    detail: str

    def __str__(self) -> str:
        return f"{self.name}: {self.detail}"


@dataclass
class Verification:
    snapshot: str
    checked: int = 0
    bytes: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class Verifier:
    """Verifies snapshots one after another, reading each shared inode only once."""

    def __init__(self, progress: ProgressFn | None = None, clock: Clock | None = None) -> None:
        self.progress = progress
        self.clock = clock or SystemClock()
        self._digests: dict[tuple[int, int, int, int], str] = {}

    def verify(self, snapshot: Snapshot, record: bool = True) -> Verification:
        """Check `snapshot`; with `record`, remember the outcome in its VERIFY.json."""
        result = Verification(snapshot.id)
        if snapshot.manifest is None:
            result.problems.append(Problem(MANIFEST_NAME, "missing or unreadable"))
            return result
        files = snapshot.manifest.files
        total = sum(entry.size for entry in files.values())
        for name, entry in sorted(files.items()):
            problem = self.check_file(snapshot.path / name, entry.size, entry.sha256)
            result.checked += 1
            result.bytes += entry.size
            if problem:
                result.problems.append(Problem(name, problem))
            if self.progress is not None:
                self.progress(result.bytes, total, name)
        result.problems.extend(
            Problem(name, "not in the manifest") for name in _extra(snapshot.path, set(files))
        )
        if record:
            with contextlib.suppress(OSError):  # a read-only backup disk can still be verified
                VerifyRecord(
                    self.clock.time(), result.ok, result.checked, [str(p) for p in result.problems[:50]]
                ).write(snapshot.path)
        return result

    def check_file(self, path: Path, size: int, sha256: str) -> str:
        """What is wrong with the file at `path` ("" if it has that size and checksum)."""
        try:
            stat = path.lstat()
        except OSError as exc:
            return f"missing ({os_reason(exc)})"
        if not path.is_file() or path.is_symlink():
            return "not a regular file"
        if stat.st_size != size:
            return f"size {stat.st_size}, manifest says {size}"
        try:
            digest = self._digest(path, stat)
        except OSError as exc:
            return f"unreadable ({os_reason(exc)})"
        return "" if digest == sha256 else "checksum mismatch (content changed or damaged)"

    def _digest(self, path: Path, stat: os.stat_result) -> str:
        key = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if key not in self._digests:
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                while chunk := handle.read(CHUNK):
                    digest.update(chunk)
            self._digests[key] = digest.hexdigest()
        return self._digests[key]


def _extra(folder: Path, known: set[str]) -> list[str]:
    extra: list[str] = []
    for here, _dirs, names in os.walk(folder):
        for name in names:
            rel = (Path(here) / name).relative_to(folder).as_posix()
            if rel not in known and rel not in OWN_FILES and not name.endswith(".partial"):
                extra.append(rel)
    return sorted(extra)
