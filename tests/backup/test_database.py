"""Issue 13: the queue database is copied consistently while it is being written (online backup API)."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from autonomic.backup import catalog
from autonomic.backup.database import copy_database, integrity
from autonomic.backup.errors import BackupError
from autonomic.workspace import Workspace
from tests.backup.conftest import backups_for
from tests.helpers import wait_until
from tests.queue.support import start_server

WRITER = r"""
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA journal_mode = WAL")
db.execute("PRAGMA synchronous = NORMAL")
db.execute("CREATE TABLE IF NOT EXISTS rows (n INTEGER PRIMARY KEY, pad BLOB)")
n = 0
while True:
    n += 1
    db.execute("BEGIN IMMEDIATE")
    db.execute("INSERT INTO rows VALUES (?, randomblob(300))", (n,))
    db.execute("UPDATE rows SET pad = randomblob(300) WHERE n = ?", (max(1, n // 2),))
    db.execute("COMMIT")
    if n % 50 == 0:
        print(n, flush=True)
"""


def _committed(proc: subprocess.Popen[str], last: list[int]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        last.append(int(line))


def test_copy_while_a_writer_commits(workspace: Workspace, pids: list[int]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(workspace.queue_db)], stdout=subprocess.PIPE, text=True
    )
    pids.append(proc.pid)
    seen: list[int] = []
    threading.Thread(target=_committed, args=(proc, seen), daemon=True).start()
    wait_until(lambda: len(seen) > 5, timeout=30, what="the writer to commit rows")
    backups = backups_for(workspace)
    for _ in range(3):
        before = seen[-1]  # every row up to here was committed before the backup began
        snap = backups.run().snapshot
        assert snap is not None
        copy = snap / "state/queue.db"
        assert integrity(copy) == "ok"
        assert not Path(str(copy) + "-wal").exists()
        db = sqlite3.connect(copy)
        count, low, high = db.execute("SELECT count(*), min(n), max(n) FROM rows").fetchone()
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
        db.close()
        assert mode == "delete"
        assert high >= before and low == 1 and count == high  # a prefix of the commits: nothing torn
        time.sleep(0.2)
    assert proc.poll() is None, "the writer was blocked or died during the backups"
    proc.kill()
    proc.wait(timeout=10)


def test_copy_while_the_queue_server_takes_tasks(workspace: Workspace, pids: list[int]) -> None:
    server = start_server(workspace, pids)
    acknowledged: list[tuple[float, str]] = []
    stop = threading.Event()

    def feed() -> None:
        with server.client() as client:
            while not stop.is_set():
                task = client.create("e7-backup-test", {"n": len(acknowledged)})
                acknowledged.append((time.monotonic(), task.id))

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        wait_until(lambda: len(acknowledged) > 20, timeout=30, what="tasks to be acknowledged")
        started = time.monotonic()
        snap = backups_for(workspace).run().snapshot
    finally:
        stop.set()
        feeder.join(timeout=30)
    assert snap is not None
    copy = snap / "state/queue.db"
    assert integrity(copy) == "ok"
    db = sqlite3.connect(copy)
    stored = {row[0] for row in db.execute("SELECT id FROM tasks")}
    db.close()
    before = [task_id for at, task_id in acknowledged if at < started]
    assert before and set(before) <= stored
    server.terminate()


def _lock_exclusively(path: Path) -> sqlite3.Connection:
    """A writer that holds the database's exclusive lock (rollback journal) until closed."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = DELETE")
    db.execute("CREATE TABLE IF NOT EXISTS t (n INTEGER)")
    db.execute("BEGIN EXCLUSIVE")
    db.execute("INSERT INTO t VALUES (1)")
    return db


def test_a_database_locked_too_long_fails_the_copy(tmp_path: Path) -> None:
    holder = _lock_exclusively(tmp_path / "q.db")
    started = time.monotonic()
    try:
        with pytest.raises(BackupError, match="stayed locked for 1s"):
            copy_database(tmp_path / "q.db", tmp_path / "copy.db", timeout=1.0)
    finally:
        holder.close()
    assert time.monotonic() - started < 10


def test_killed_mid_snapshot_leaves_nothing_that_looks_real(workspace: Workspace, pids: list[int]) -> None:
    backups = backups_for(workspace)
    first = backups.run().snapshot
    holder = _lock_exclusively(workspace.queue_db)  # the run will wait at the database copy
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "autonomic", "backup", "run", "--workspace", str(workspace.root)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        pids.append(proc.pid)
        partial = wait_until(
            lambda: next(iter(workspace.backups_dir.glob(".partial-*/state")), None),
            timeout=60,
            what="the run to reach the database copy",
        ).parent
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        holder.close()
    assert [s.path for s in catalog.snapshots(workspace.backups_dir)] == [first]
    assert partial.exists() and (partial / "configs/.env").is_file()
    outcome = backups.run()
    assert outcome.cleaned == [partial.name] and not partial.exists()
    assert len(catalog.snapshots(workspace.backups_dir)) == 2
