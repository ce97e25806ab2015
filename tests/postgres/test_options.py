"""The options of scale-out: `[queue] store = "postgresql://…"` checked when the config is read, and
`autonomic worker --server URL1,URL2 --token-file F` for a worker on another host."""

from __future__ import annotations

from pathlib import Path

import pytest

from autonomic.errors import UsageError
from autonomic.worker.failover import server_urls
from tests.helpers import run_cli


def _one_line(args: list[str], cwd: Path, says: str) -> None:
    done = run_cli("worker", *args, cwd=cwd)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and says in lines[0] and "Traceback" not in done.stderr


def test_token_file_problems_are_one_line(tmp_workspace: Path) -> None:
    assert run_cli("init", cwd=tmp_workspace).returncode == 0
    _one_line(["--token-file", str(tmp_workspace / "absent")], tmp_workspace, "cannot read it")
    two = tmp_workspace / "two-words"
    two.write_text("a b\n")
    _one_line(["--token-file", str(two)], tmp_workspace, "the token alone on one line")
    _one_line(["--token-file", str(two), "--token", "x"], tmp_workspace, "not both")
    _one_line(["--server", "http://a:1,ftp://b"], tmp_workspace, "--server must be an http")


def test_server_lists_are_split_and_checked() -> None:
    assert server_urls(" http://a:1/ , https://b ") == ["http://a:1", "https://b"]
    with pytest.raises(UsageError):
        server_urls(" , ")


def test_a_bad_store_url_stops_up_with_one_line_and_no_password(tmp_workspace: Path) -> None:
    assert run_cli("init", cwd=tmp_workspace).returncode == 0
    toml = tmp_workspace / "autonomic.toml"
    text = toml.read_text()
    toml.write_text(
        text.replace("[queue]", '[queue]\nstore = "postgresql://app:hunter2@db/q?schema=Bad-Name"', 1)
    )
    done = run_cli("up", cwd=tmp_workspace)
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        "error: autonomic.toml: queue.store: schema 'Bad-Name' must be a lower-case SQL name (a-z, 0-9, _)"
    ]
    assert "hunter2" not in done.stdout + done.stderr
    assert not (tmp_workspace / ".autonomic" / "plan.json").exists()
