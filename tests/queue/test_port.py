"""Issue 8: the queue server checks its port before it binds and says who holds it."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from tests.helpers import run_cli
from tests.queue.support import make_workspace


def test_a_port_held_by_someone_else_is_one_line_naming_the_holder(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        workspace = make_workspace(tmp_path / "ws", port=port)
        result = run_cli("serve", "--workspace", str(workspace.root), timeout=60)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert f"cannot listen on 127.0.0.1:{port}" in last
    assert f"port {port} is held by pid {os.getpid()}" in last
