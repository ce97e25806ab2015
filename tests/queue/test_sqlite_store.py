"""What only the SQLite backend promises (the shared semantics are in test_store_contract.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from autonomic.errors import ConfigError, StoreError
from autonomic.queue.store import open_store
from autonomic.queue.store.base import Policy
from autonomic.queue.store.records import NewTask, Submission
from autonomic.queue.store.sqlite import SqliteStore
from autonomic.queue.task import TaskStatus, TransitionError, check_transition


def test_a_second_store_on_the_same_file_is_refused(tmp_path: Path) -> None:
    first = SqliteStore(tmp_path / "q.db")
    try:
        with pytest.raises(StoreError, match="another queue server"):
            SqliteStore(tmp_path / "q.db")
    finally:
        first.close()
    SqliteStore(tmp_path / "q.db").close()  # the lock goes with the store


def test_a_corrupt_database_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "q.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"q\.db: the queue database is damaged .*move it aside"):
        SqliteStore(tmp_path / "q.db")


def test_an_unopenable_database_path_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "q.db").mkdir()  # a folder where the file should be: unopenable even for root
    with pytest.raises(StoreError, match="cannot be opened"):
        SqliteStore(tmp_path / "q.db")


def test_the_database_is_in_wal_mode(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "q.db").close()
    with sqlite3.connect(tmp_path / "q.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_full_sync_mode_stores_and_claims(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "q.db", sync="full")
    try:
        task = store.create([NewTask("ping", {})])[0].task
        assert [t.task_id for t in store.claim("w", [], 1)] == [task.task_id]
    finally:
        store.close()


def test_store_urls_resolve_against_the_workspace(tmp_path: Path) -> None:
    default = open_store(None, tmp_path / "default.db", root=tmp_path)
    relative = open_store("sqlite:///data/q.db", tmp_path / "unused.db", root=tmp_path)
    absolute = open_store(f"sqlite:///{tmp_path}/abs.db", tmp_path / "unused.db", root=tmp_path)
    for store in (default, relative, absolute):
        store.close()
    assert (tmp_path / "default.db").exists()
    assert (tmp_path / "data" / "q.db").exists()
    assert (tmp_path / "abs.db").exists()
    assert not (tmp_path / "unused.db").exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://localhost", "unknown store 'redis'"),
        ("sqlite:/relative.db", "expected sqlite:///path"),
    ],
)
def test_unsupported_store_urls_are_config_errors(tmp_path: Path, url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        open_store(url, tmp_path / "q.db", root=tmp_path)


def test_final_states_are_final() -> None:
    for final in (TaskStatus.DONE, TaskStatus.FAILED, TaskStatus.CANCELLED):
        for target in TaskStatus:
            with pytest.raises(TransitionError):
                check_transition(final, target)
    check_transition(TaskStatus.LEASED, TaskStatus.PENDING)
    with pytest.raises(TransitionError):
        check_transition(TaskStatus.PENDING, TaskStatus.DEAD)  # only a spent lease dead-letters


def test_a_version_1_database_is_upgraded_in_place(tmp_path: Path) -> None:
    """Version 1 kept no time for dead tasks (so retention never evicted them) and no duration totals."""
    path = tmp_path / "q.db"
    store = SqliteStore(path, policy=Policy(max_attempts=1))
    try:
        dead, done = (store.create([NewTask("t", {})])[0].task.task_id for _ in range(2))
        store.claim("w", [], 2)
        store.release(dead, "w")
        store.submit([Submission(done, True, {"duration_ms": 40.0}, None, "w")])
    finally:
        store.close()
    with sqlite3.connect(path) as db:  # back to what version 1 wrote
        db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
        db.execute("UPDATE tasks SET finished_at = NULL WHERE status = 'dead'")
        db.execute("DELETE FROM totals")
    store = SqliteStore(path)
    try:
        assert store.get(dead).finished_at is not None  # evictable again
        assert store.avg_duration_ms() == 40.0  # totals rebuilt from the stored results
    finally:
        store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("2",)


def test_claims_and_pages_walk_the_claim_index_in_order(tmp_path: Path) -> None:
    """The plans that keep a deep queue cheap: no claim or page sorts the pending tasks (without
    INDEXED BY, SQLite took the status index and sorted all of them: 200x slower at 100k tasks)."""
    store = SqliteStore(tmp_path / "q.db")
    seen: list[str] = []
    try:
        store.create([NewTask(f"t{i % 7}", {}) for i in range(300)])
        store._db.set_trace_callback(seen.append)
        store.claim("w", ["t1", "t3"], 5)
        store.claim("w", [], 5)
        store.next_ready_at(["t2"])
        store.tasks(TaskStatus.PENDING, ["t4"], limit=10, after=store.tasks(TaskStatus.PENDING, limit=3).next)
        selects = [
            sql for sql in seen if sql.lstrip().upper().startswith("SELECT") and "status = 'pending'" in sql
        ]
        assert len(selects) >= 5
        for sql in selects:
            plan = " ".join(
                row["detail"] for row in store._db.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()
            )
            assert "tasks_claim" in plan and "TEMP B-TREE" not in plan, (sql, plan)
    finally:
        store._db.set_trace_callback(None)
        store.close()
