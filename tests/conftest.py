from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import kill_tree, workspace_pids
from tests.postgres.fixtures import pg_cluster, pg_database, pg_url  # noqa: F401 - one cluster a session


@pytest.fixture
def pids() -> Iterator[list[int]]:
    """Append the pid of every process a test starts; all are killed (with their trees) at teardown."""
    started: list[int] = []
    yield started
    kill_tree(started)


@pytest.fixture
def tmp_workspace(tmp_path: Path) -> Iterator[Path]:
    """An empty folder for a workspace; any process left running inside it is killed at teardown."""
    root = tmp_path / "ws"
    root.mkdir()
    yield root
    kill_tree(workspace_pids(root))
