"""A consistent copy of a live SQLite database through SQLite's online backup API.

The copy is taken in one step inside a single read transaction: in WAL mode the server keeps
writing meanwhile, and the copy holds exactly the transactions committed before it began. A raw
file copy of a WAL database would miss (or half-include) what is still in the `-wal` file.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path
from urllib.parse import quote

from autonomic.backup.errors import BackupError

BUSY_TIMEOUT = 60.0


class _StillLocked(Exception):
    pass


def copy_database(source: Path, dest: Path, timeout: float = BUSY_TIMEOUT) -> None:
    """Copy the database at `source` to the new file `dest` (a single file, rollback journal), checked."""
    uri = f"file:{quote(str(source))}?mode=rw"  # never create the source if it vanished meanwhile
    try:
        src = sqlite3.connect(uri, uri=True, timeout=timeout)
    except sqlite3.Error as exc:
        raise BackupError(f"{source}: cannot open the queue database ({exc})") from None
    try:
        dst = sqlite3.connect(dest, timeout=timeout)
        deadline = time.monotonic() + timeout

        def give_up_when_late(status: int, remaining: int, total: int) -> None:
            # sqlite3's backup() retries a locked source forever; this bounds the wait
            if time.monotonic() > deadline:
                raise _StillLocked

        try:
            src.backup(dst, progress=give_up_when_late)
            dst.execute("PRAGMA journal_mode = DELETE")
            _check(dst, source)
        finally:
            dst.close()
    except _StillLocked:
        raise BackupError(f"{source}: the queue database stayed locked for {timeout:g}s; try again") from None
    except sqlite3.Error as exc:
        raise BackupError(f"{source}: copying the queue database failed ({exc})") from None
    finally:
        src.close()
        for suffix in ("-journal", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                dest.with_name(dest.name + suffix).unlink()


def integrity(path: Path) -> str:
    """`PRAGMA integrity_check` of the database file at `path` ("ok" when sound)."""
    try:
        db = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)
        try:
            rows = db.execute("PRAGMA integrity_check").fetchall()
        finally:
            db.close()
    except sqlite3.Error as exc:
        return str(exc)
    return "; ".join(str(row[0]) for row in rows)


def _check(db: sqlite3.Connection, source: Path) -> None:
    rows = db.execute("PRAGMA integrity_check").fetchall()
    verdict = "; ".join(str(row[0]) for row in rows)
    if verdict != "ok":
        raise BackupError(
            f"{source}: the copy of the queue database fails its integrity check: {verdict[:200]}"
        )
