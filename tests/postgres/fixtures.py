"""pytest fixtures for PostgreSQL: one throwaway cluster per test session, one schema per test.

Import them into a conftest (`from tests.postgres.fixtures import pg_cluster, pg_url`). Where
PostgreSQL is not installed the tests that use them are skipped with the one reason why.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.postgres.cluster import Cluster, missing_reason


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError:
        pytest.skip("the PostgreSQL driver is not installed (pip install -e '.[postgres]')")
    cluster = Cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_database(pg_cluster: Cluster) -> str:
    """One database for the session; tests keep apart by schema (cheap to make, unlike a database)."""
    return pg_cluster.create_database("queue")


@pytest.fixture
def pg_url(pg_cluster: Cluster, pg_database: str) -> Iterator[str]:
    """A store URL of a schema of its own (created by the store's first migration, dropped after)."""
    schema = f"s_{uuid.uuid4().hex[:12]}"
    yield f"{pg_cluster.url(pg_database)}?schema={schema}"
    pg_cluster.execute(pg_database, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
