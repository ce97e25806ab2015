"""`autonomic queue ...` as a user types it, against a real server."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import free_port, run_cli
from tests.queue.support import Server, make_workspace


def cli(server: Server, *args: str) -> tuple[int, str, str]:
    result = run_cli("queue", *args, "--workspace", str(server.workspace.root))
    return result.returncode, result.stdout, result.stderr


def test_add_list_get_cancel(shared_server: Server, kind: str) -> None:
    code, out, err = cli(
        shared_server,
        "add",
        kind,
        "--data",
        '{"url": "https://example.com"}',
        "--priority",
        "urgent",
        "--key",
        kind,
        "--json",
    )
    assert code == 0, err
    task = json.loads(out)
    assert (
        task["type"] == kind
        and task["priority"] == "urgent"
        and task["data"] == {"url": "https://example.com"}
    )

    code, out, _ = cli(shared_server, "list", "--json")
    assert code == 0 and task["task_id"] in {t["task_id"] for t in json.loads(out)}

    code, out, _ = cli(shared_server, "get", task["task_id"])
    assert code == 0 and kind in out and "urgent" in out

    code, out, _ = cli(shared_server, "cancel", task["task_id"])
    assert code == 0 and "cancelled" in out
    code, _, err = cli(shared_server, "cancel", task["task_id"])
    assert code == 1 and "already cancelled" in err and "Traceback" not in err


def test_bad_input_is_one_line_and_exit_2(shared_server: Server) -> None:
    code, _, err = cli(shared_server, "add", "x", "--data", "[1, 2]")
    assert code == 2 and "--data must be a JSON object" in err
    code, _, err = cli(shared_server, "add", "x", "--delay", "soon")
    assert code == 2 and "--delay" in err
    code, _, err = cli(shared_server, "get", "no-such-task")
    assert code == 1 and "no task no-such-task" in err and "Traceback" not in err


def test_stats_and_dlq(shared_server: Server) -> None:
    code, out, _ = cli(shared_server, "stats", "--json")
    assert code == 0 and {"pending", "workers", "success_rate"} <= set(json.loads(out))
    code, out, _ = cli(shared_server, "dlq", "--json")
    assert code == 0 and isinstance(json.loads(out), list)
    code, _, err = cli(shared_server, "dlq", "--requeue", "no-such-task")
    assert code == 1 and "no task" in err


def test_a_stopped_server_is_reported_plainly(tmp_workspace: Path) -> None:
    workspace = make_workspace(tmp_workspace, port=free_port())
    result = run_cli("queue", "stats", "--workspace", str(workspace.root))
    assert result.returncode == 3 and "queue server not reachable at http://127.0.0.1:" in result.stderr
    assert "Traceback" not in result.stderr
