"""What only the SQLite backend promises (the shared semantics are in test_store_contract.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from autonomic.errors import ConfigError
from autonomic.queue.store import open_store
from autonomic.queue.store.base import NewTask, StoreError
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
    with pytest.raises(StoreError, match=r"q\.db: the queue database cannot be opened .*move it aside"):
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
        ("postgresql://localhost/queue", "PostgreSQL store is not part of this version"),
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
