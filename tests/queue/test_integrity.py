"""Issue 9, item 6: a damaged database is never silent.

A damaged file is refused at start with one clear line (and kept aside, never written to); a WAL whose
tail SQLite's recovery will throw away is reported before it does, with a copy kept.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from autonomic.errors import StoreError
from autonomic.queue.store.sqlite import SqliteStore
from autonomic.queue.store.sqlite.integrity import wal_path
from autonomic.queue.task import TaskStatus
from tests.helpers import PYTHON, run_cli
from tests.queue.support import make_workspace, start_server


def _crash_after_writing(path: Path, tasks: int) -> None:
    """Create `tasks` tasks (one transaction each) in a child process that then dies by SIGKILL, so its
    WAL is left as a crash leaves it: committed frames not yet checkpointed into the database."""
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from autonomic.queue.store.records import NewTask
        from autonomic.queue.store.sqlite import SqliteStore
        store = SqliteStore(Path({str(path)!r}))
        store._db.execute("PRAGMA wal_autocheckpoint = 0")  # keep every frame in the WAL
        for i in range({tasks}):
            store.create([NewTask("acked", {{"i": i, "pad": "x" * 300}})])
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run([PYTHON, "-c", script], check=False, timeout=60)
    assert done.returncode == -9
    assert wal_path(path).stat().st_size > 100_000


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_wal_left_by_a_crash_is_recovered_without_a_false_alarm(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    _crash_after_writing(path, 300)
    store = SqliteStore(path)
    try:
        assert store.notices == []
        assert store.counts().of(TaskStatus.PENDING) == 300  # every acknowledged task is there
    finally:
        store.close()
    assert not list(tmp_path.glob("q.db.damaged-*"))


def test_garbage_in_the_wal_is_reported_before_sqlite_discards_it(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    _crash_after_writing(path, 300)
    wal = wal_path(path)
    with wal.open("r+b") as handle:  # 64 bytes of garbage in the middle of the WAL (the case)
        handle.seek(wal.stat().st_size // 3)
        handle.write(b"\xa5" * 64)
    damaged_wal = _digest(wal)
    store = SqliteStore(path)
    try:
        [notice] = store.notices
        assert "q.db-wal: frame at offset" in notice and "SQLite discards the" in notice
        assert "tasks and results committed in them are lost" in notice
        survivors = store.counts().of(TaskStatus.PENDING)
        assert 0 < survivors < 300  # what SQLite kept: the loss this notice is about is real
    finally:
        store.close()
    [kept] = [p for p in tmp_path.glob("q.db.damaged-*") if not p.name.endswith("-wal")]
    assert _digest(wal_path(kept)) == damaged_wal  # the WAL as it was, before recovery touched it


def _damage_a_page(path: Path) -> None:
    store = SqliteStore(path)
    try:
        from autonomic.queue.store.records import NewTask

        store.create([NewTask("t", {"i": i, "pad": "y" * 500}) for i in range(2000)])
    finally:
        store.close()  # checkpointed: everything is in the main file now
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.seek(size // 2 // 4096 * 4096)  # the start of a page in the middle of the tree
        handle.write(b"\x00\xff" * 2048)


def test_a_damaged_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    _damage_a_page(path)
    before = _digest(path)
    with pytest.raises(StoreError, match=r"q\.db: the queue database is damaged \(.*\); not serving it"):
        SqliteStore(path)
    assert _digest(path) == before  # never written to
    [kept] = [p for p in tmp_path.glob("q.db.damaged-*") if not p.name.endswith(("-wal", "-shm"))]
    assert _digest(kept) == before
    with pytest.raises(StoreError):
        SqliteStore(path)  # and again on every start: a restart loop never serves it either
    copies = [p for p in tmp_path.glob("q.db.damaged-*") if not p.name.endswith(("-wal", "-shm"))]
    assert copies == [kept]  # one copy per damaged state, not one per start


def test_the_server_refuses_a_damaged_database_in_one_line_and_one_event(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "ws")
    workspace.queue_db.parent.mkdir(parents=True, exist_ok=True)
    _damage_a_page(workspace.queue_db)
    result = run_cli("serve", "--workspace", str(workspace.root), timeout=60)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]  # what the service's log ends with: status shows it
    assert "queue.db: the queue database is damaged" in last and "backup restore" in last
    assert sum("damaged" in line for line in result.stderr.splitlines()) == 1  # one line, not a traceback
    events = [json.loads(line) for line in workspace.orchestrator_log.read_text().splitlines()]
    assert any(e["action"] == "store_check" and e["status"] == "failed" for e in events)


def test_the_server_reports_a_discarded_wal_as_an_event(tmp_path: Path, pids: list[int]) -> None:
    workspace = make_workspace(tmp_path / "ws")
    workspace.queue_db.parent.mkdir(parents=True, exist_ok=True)
    _crash_after_writing(workspace.queue_db, 200)
    wal = wal_path(workspace.queue_db)
    with wal.open("r+b") as handle:
        handle.seek(wal.stat().st_size // 2)
        handle.write(b"\x5a" * 64)
    server = start_server(workspace, pids)
    events = [json.loads(line) for line in workspace.orchestrator_log.read_text().splitlines()]
    [event] = [e for e in events if e["action"] == "store_recovery"]
    assert (
        event["target"] == "queue" and event["status"] == "warning" and "SQLite discards" in event["details"]
    )
    assert "SQLite discards the" in server.log
