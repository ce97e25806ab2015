"""Opening the SQLite store's database: the writer lock, WAL, the schema and its upgrades, clear errors."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from autonomic.errors import StoreError
from autonomic.queue.store.sqlite import rows
from autonomic.queue.store.sqlite.schema import DDL, MIGRATIONS, SEED_COUNTS, SEED_TOTALS, VERSION


def types_clause(types: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    if not types:
        return "", ()
    return f"AND type IN ({', '.join('?' for _ in types)})", tuple(types)


@contextmanager
def translated(path: Path) -> Iterator[None]:
    """Turn a database failure into a `StoreError` that names the file and what to do."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: queue database error: {exc}") from exc


def exclusive(path: Path) -> FileLock:
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path) + ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise StoreError(f"{path}: another queue server is already using this database") from None
    return lock


def connect(path: Path, sync: str) -> sqlite3.Connection:
    """Open (creating if needed) the database; a corrupt or unwritable file becomes one clear StoreError."""
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        db.row_factory = rows.dict_factory
        db.execute("PRAGMA busy_timeout = 5000")
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()["journal_mode"]
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"cannot switch to WAL journal mode (got {mode})")
        db.execute(f"PRAGMA synchronous = {'FULL' if sync == 'full' else 'NORMAL'}")
        db.executescript(DDL)
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT OR IGNORE INTO counts(status, priority, n) VALUES (?, ?, 0)", SEED_COUNTS)
        _upgrade(db)
        db.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            f"{path}: the queue database cannot be opened ({exc}). If it is corrupt, move it aside to start "
            "empty, or restore it from backups/; if the disk is full or read-only, free or fix it."
        ) from None
    return db


def _upgrade(db: sqlite3.Connection) -> None:
    """Bring an older database to this VERSION inside the opening transaction."""
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is not None and int(row["value"]) < VERSION:
        for statement in MIGRATIONS:
            db.execute(statement)
    if db.execute("SELECT 1 FROM totals WHERE name = 'duration'").fetchone() is None:
        db.execute(SEED_TOTALS)
    db.execute(
        "INSERT INTO meta(key, value) VALUES ('schema_version', ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (str(VERSION),),
    )
