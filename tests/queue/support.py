"""Queue test support: workspaces with a free port, and real server processes stopped by pid."""

from __future__ import annotations

import contextlib
import os
import re
import resource
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from autonomic.api_token import read as read_token
from autonomic.queue.client import QueueClient
from autonomic.scaffold import init
from autonomic.workspace import Workspace
from tests.helpers import PYTHON, free_port, wait_until


def make_workspace(root: Path, **queue: Any) -> Workspace:
    """`autonomic init` in `root`, then a free port and `queue` settings written into its [queue] table."""
    workspace = Workspace.at(root)
    init(workspace)
    queue.setdefault("port", free_port())
    text = workspace.config_file.read_text(encoding="utf-8")
    for key in queue:  # drop the template's own line for a key we set (port, bind, require_token)
        text = re.sub(rf"(?m)^{key} = .*\n", "", text)
    lines = "".join(f"{key} = {_toml(value)}\n" for key, value in queue.items())
    text = text.replace("[queue]", "[queue]\n" + lines.rstrip("\n"), 1)
    workspace.config_file.write_text(text, encoding="utf-8")
    return workspace


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


@dataclass
class Server:
    """One `autonomic serve` process of a workspace."""

    workspace: Workspace
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token(self) -> str:
        token = read_token(self.workspace)
        assert token
        return token

    @property
    def log(self) -> str:
        return (self.workspace.logs / "queue-test.log").read_text(encoding="utf-8", errors="replace")

    def client(self, worker: str | None = "tester", token: str | None = None) -> QueueClient:
        return QueueClient(self.url, token if token is not None else self.token, worker, timeout=10.0)

    def http(self, **headers: str) -> httpx.Client:
        """A raw HTTP client carrying the token (unless headers override it), for contract-level tests."""
        merged = {"Authorization": f"Bearer {self.token}", **headers}
        return httpx.Client(base_url=self.url, headers=merged, timeout=10.0)

    def kill(self) -> None:
        """SIGKILL: the crash case."""
        self.proc.kill()
        self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 10.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)


def every_task(server: Server, status: str, kind: str | None = None) -> list[dict[str, Any]]:
    """Every task in `status` (of type `kind`), page after page of /api/tasks (at most 1,000 each)."""
    found: list[dict[str, Any]] = []
    params: dict[str, str] = {"status": status, **({"types": kind} if kind else {})}
    with server.http() as http:
        while True:
            page = http.get("/api/tasks", params=params).json()
            assert page["count"] <= 1000
            found.extend(page["queue"])
            if page["next_cursor"] is None:
                return found
            params["cursor"] = page["next_cursor"]


def start_server(workspace: Workspace, pids: list[int], *extra: str, file_limit: int | None = None) -> Server:
    """Start `python -m autonomic serve` for `workspace`, wait until /api/health answers, register its pid.

    `file_limit` lowers the server's RLIMIT_NOFILE (the connection-flood tests need a small one)."""
    from autonomic import config

    port = config.load(workspace).queue.port
    workspace.logs.mkdir(parents=True, exist_ok=True)
    log = (workspace.logs / "queue-test.log").open("ab")
    proc = subprocess.Popen(
        [PYTHON, "-m", "autonomic", "serve", "--workspace", str(workspace.root), *extra],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "NO_COLOR": "1"},
        preexec_fn=None if file_limit is None else lambda: _limit_files(file_limit),  # noqa: PLW1509
    )
    log.close()
    pids.append(proc.pid)
    server = Server(workspace, port, proc)
    wait_until(lambda: _healthy(server), timeout=20, what=f"queue server on port {port}")
    return server


def _limit_files(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))


def _healthy(server: Server) -> bool:
    if server.proc.poll() is not None:
        raise AssertionError(f"queue server exited with {server.proc.returncode}:\n{server.log}")
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(server.url + "/api/health", timeout=1.0).status_code == 200
    return False
