from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from autonomic.clock import FakeClock
from autonomic.queue.store.base import Policy, Store
from autonomic.queue.store.sqlite import SqliteStore
from tests.helpers import kill_tree
from tests.queue.support import Server, make_workspace, start_server


@dataclass
class Backend:
    """How the contract tests get a store: `open` may be called again to reopen the same database."""

    name: str
    open: Callable[[FakeClock, Policy], Store]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        path = tmp_path / "queue.db"
        return Backend("sqlite", lambda clock, policy: SqliteStore(path, clock=clock, policy=policy))
    if request.param == "postgres":  # a throwaway cluster (tests/postgres), a schema per test
        from autonomic.queue.store.postgres.store import PostgresStore

        url = request.getfixturevalue("pg_url")
        return Backend("postgres", lambda clock, policy: PostgresStore(url, clock=clock, policy=policy))
    raise AssertionError(request.param)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def policy() -> Policy:
    return Policy(
        lease=30.0,
        max_attempts=3,
        retry_delay=1.0,
        retry_max_delay=10.0,
        results_max_age=3600.0,
        results_max_count=5,
        worker_ttl=60.0,
    )


@pytest.fixture
def store(backend: Backend, clock: FakeClock, policy: Policy) -> Iterator[Store]:
    opened = backend.open(clock, policy)
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the API tests that need no special settings (each test uses its own task types)."""
    workspace = make_workspace(tmp_path_factory.mktemp("shared") / "ws", max_wait="2s", reap_interval="100ms")
    started: list[int] = []
    try:
        yield start_server(workspace, started)
    finally:
        kill_tree(started)


@pytest.fixture
def kind() -> str:
    """A task type no other test uses, so tests can share one server."""
    return f"t-{uuid.uuid4().hex[:10]}"
