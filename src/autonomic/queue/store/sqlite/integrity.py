"""A damaged database is never silent: the WAL read before SQLite recovers it, `PRAGMA quick_check`
bounded in time, and a copy of the damaged files kept aside before anything can touch them.

SQLite replays the WAL at open and silently drops every frame from the first one whose checksum
fails: committed (acknowledged) transactions after a damaged frame vanish without an error. So the WAL
is checked here first, by the same rules (header and cumulative frame checksums, salts), and frames of
the current WAL generation beyond a broken one are reported as lost.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import struct
import time
from dataclasses import dataclass
from pathlib import Path

from autonomic.errors import StoreError

log = logging.getLogger("autonomic.queue.store")

WAL_MAGIC = (0x377F0682, 0x377F0683)  # the low bit says the checksums are computed big-endian
WAL_HEADER = 32
FRAME_HEADER = 24
WAL_MAX_CHECKED = 256 * 1024 * 1024  # a larger WAL is not read at start (it would delay the server)
CHECK_BUDGET = 10.0  # seconds quick_check may take at start; a larger database is checked in part


@dataclass(frozen=True)
class WalDamage:
    """Frames SQLite will discard at open, and why."""

    reason: str
    lost_frames: int  # frames of the current generation past the damage (their transactions are lost)
    lost_bytes: int
    kept_at: Path | None = None

    def describe(self, wal: Path) -> str:
        kept = f"; the damaged files were copied to {self.kept_at}" if self.kept_at else ""
        return (
            f"{wal}: {self.reason}: SQLite discards the {self.lost_frames} frame(s) "
            f"({self.lost_bytes} bytes) written after it: tasks and results committed in them are lost{kept}"
        )


def wal_path(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


def inspect_wal(path: Path) -> WalDamage | None:
    """What SQLite's recovery of `path`'s WAL would throw away, read before it runs; None if nothing."""
    wal = wal_path(path)
    try:
        size = wal.stat().st_size
        if size == 0 or size > WAL_MAX_CHECKED:
            return None
        data = wal.read_bytes()
    except OSError:
        return None
    if len(data) < WAL_HEADER:
        return None  # a header cut short: nothing was committed through this WAL yet
    magic, _, page_size, _, salt1, salt2, sum1, sum2 = struct.unpack(">8I", data[:WAL_HEADER])
    if magic not in WAL_MAGIC or page_size < 512 or page_size > 65536 or page_size & (page_size - 1):
        frames = (len(data) - WAL_HEADER) // (FRAME_HEADER + max(page_size, 512))
        return WalDamage("the WAL header is unreadable", frames, len(data) - WAL_HEADER)
    big = bool(magic & 1)
    if _checksum(data[:24], 0, 0, big) != (sum1, sum2):
        return WalDamage(
            "the WAL header checksum fails",
            (len(data) - WAL_HEADER) // (FRAME_HEADER + page_size),
            len(data) - WAL_HEADER,
        )
    return _walk_frames(data, page_size, (salt1, salt2), (sum1, sum2), big)


def _walk_frames(
    data: bytes, page_size: int, salts: tuple[int, int], sums: tuple[int, int], big: bool
) -> WalDamage | None:
    frame = FRAME_HEADER + page_size
    pos = WAL_HEADER
    while pos + frame <= len(data):
        _, _, salt1, salt2, want1, want2 = struct.unpack(">6I", data[pos : pos + FRAME_HEADER])
        if (salt1, salt2) != salts:
            break  # a frame of an earlier generation (or damaged salts): look further below
        sums = _checksum(data[pos : pos + 8], *sums, big)
        sums = _checksum(data[pos + FRAME_HEADER : pos + frame], *sums, big)
        if sums != (want1, want2):
            lost = _current_frames(data, pos, frame, salts)
            return WalDamage(f"frame at offset {pos} fails its checksum", lost, lost * frame)
        pos += frame
    # The chain ended on a frame of another generation: damage only if frames of ours follow it.
    lost = _current_frames(data, pos + frame, frame, salts)
    if lost:
        return WalDamage(f"frame at offset {pos} is damaged (wrong salt)", lost + 1, (lost + 1) * frame)
    return None


def _current_frames(data: bytes, start: int, frame: int, salts: tuple[int, int]) -> int:
    """How many whole frames of the current generation lie at or after `start`."""
    count = 0
    for pos in range(start, len(data) - frame + 1, frame):
        if struct.unpack(">2I", data[pos + 8 : pos + 16]) == salts:
            count += 1
    return count


def _checksum(chunk: bytes, s0: int, s1: int, big: bool) -> tuple[int, int]:
    """SQLite's WAL checksum: Fibonacci-weighted sums over 32-bit words, in pairs."""
    words = struct.unpack(f"{'>' if big else '<'}{len(chunk) // 4}I", chunk)
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & 0xFFFFFFFF
        s1 = (s1 + words[i + 1] + s0) & 0xFFFFFFFF
    return s0, s1


def keep_aside(path: Path) -> Path:
    """Copy the database and its WAL next to it, once per damaged state, before SQLite may change them."""
    stat = path.stat()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(stat.st_mtime))
    target = path.with_name(f"{path.name}.damaged-{stamp}-{stat.st_size}")
    if not target.exists():
        partial = target.with_name(target.name + ".partial")
        shutil.copy2(path, partial)
        partial.replace(target)
    wal = wal_path(path)
    if wal.exists() and wal.stat().st_size > 0 and not wal_path(target).exists():
        shutil.copy2(wal, wal_path(target))
    return target


def quick_check(path: Path, budget: float = CHECK_BUDGET) -> str | None:
    """Run `PRAGMA quick_check` on a read-only connection for at most `budget` seconds.

    Returns None when the database is sound (or too large to finish checking in time: logged), else
    the first problem SQLite found. Read-only, so nothing (not even a checkpoint) is written.
    """
    if not path.is_file():
        return None  # nothing to check yet (or not a file at all: opening it says why)
    deadline = time.monotonic() + budget
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.OperationalError:
        return None  # cannot be opened at all: the read-write open reports it
    try:
        db.set_progress_handler(lambda: int(time.monotonic() > deadline), 100_000)
        found = [str(row[0]) for row in db.execute("PRAGMA quick_check(5)").fetchall()]
    except sqlite3.OperationalError:
        if time.monotonic() > deadline:
            log.warning(
                "%s: quick_check stopped after %gs (a large database); starting unchecked", path, budget
            )
        return None  # interrupted, locked or unreadable: not evidence of damage
    except sqlite3.DatabaseError as exc:  # not a database, malformed image
        return " ".join(str(exc).split())
    finally:
        db.close()
    return None if found == ["ok"] else " ".join("; ".join(found).split())  # one line, whatever SQLite says


def refuse_damaged(path: Path, problem: str) -> StoreError:
    """The one-line error a damaged database stops the server with (its files kept aside first)."""
    try:
        kept = f"; a copy is kept at {keep_aside(path)}"
    except OSError as exc:
        kept = f"; no copy could be kept ({exc.strerror or exc})"
    return StoreError(
        f"{path}: the queue database is damaged ({problem}); not serving it{kept}. Restore it from "
        "backups/ (autonomic backup restore), or move it aside to start with an empty queue."
    )
