from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from autonomic.workspace import Workspace
from tests.helpers import kill_tree
from tests.queue.support import Server, make_workspace, start_server

pytestmark = pytest.mark.postgres

StartServer = Callable[..., Server]


@pytest.fixture
def servers(tmp_path: Path, pg_url: str) -> Iterator[StartServer]:
    """Start queue servers sharing one PostgreSQL schema and one token, each on its own port."""
    started: list[int] = []
    made: list[Workspace] = []

    def start(**queue: object) -> Server:
        settings = {"store": pg_url, "reap_interval": "100ms", "max_wait": "20s", **queue}
        workspace = make_workspace(tmp_path / f"ws{len(made)}", **settings)
        if made:  # every server of one queue accepts the same token
            workspace.token_file.write_text(made[0].token_file.read_text())
        made.append(workspace)
        return start_server(workspace, started)

    yield start
    kill_tree(started)
