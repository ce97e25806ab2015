"""`autonomic queue ...` as a user types it, against a real server."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import httpx

from tests.helpers import free_port, run_cli, wait_until
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


def test_issue7_an_empty_type_or_bad_values_are_one_line_and_exit_2(shared_server: Server) -> None:
    for args, named in (
        (["add", ""], "task type must not be empty"),
        (["add", "   "], "task type must not be empty"),
        (["add", "x", "--data", "{not json"], "--data is not valid JSON"),
        (["add", "x", "--data", '{"n": NaN}'], "data"),
        (["add", "x", "--delay", "-5s"], "--delay"),
        (["add", "x", "--key", "k" * 300], "idempotency_key"),
    ):
        code, out, err = cli(shared_server, *args)
        assert code == 2, (args, out, err)
        assert named in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, (args, err)


def test_issue9_a_repeated_idempotency_key_says_already_queued_as_id(
    shared_server: Server, kind: str
) -> None:
    code, out, err = cli(shared_server, "add", kind, "--key", f"{kind}-key")
    assert code == 0, err
    first = out.split("task ")[1].split()[0]
    code, out, err = cli(shared_server, "add", kind, "--key", f"{kind}-key")
    assert code == 0, err
    assert f"already queued as {first}" in out and "nothing added" in out


def test_issue9_add_says_when_no_live_worker_claims_the_type(shared_server: Server, kind: str) -> None:
    code, out, err = cli(shared_server, "add", kind)
    assert code == 0 and "queued" in out
    assert f"no live worker claims {kind!r} tasks" in err and "stays queued" in err

    headers = {"Authorization": f"Bearer {shared_server.token}"}
    beat = {"name": f"{kind}-worker", "types": [kind, "ping"], "concurrency": 1}
    assert httpx.post(f"{shared_server.url}/api/workers/heartbeat", json=beat, headers=headers).is_success
    code, out, err = cli(shared_server, "add", kind)
    assert code == 0 and "queued" in out and "no live worker" not in err


def test_issue7_config_values_the_wire_would_refuse_are_refused_by_the_config(tmp_workspace: Path) -> None:
    for table, line, key in (
        ("[worker]", 'lease = "2d"', "worker.lease"),
        ("[queue]", "lease = 0", "queue.lease"),
        ("[worker]", "poll_wait = 0", "worker.poll_wait"),
        ("[worker]", 'poll_wait = "2h"', "worker.poll_wait"),
        ("[queue]", 'max_wait = "0s"', "queue.max_wait"),
        ("[worker]", 'allow = ["gpu"]', "worker.allow.0"),
    ):
        workspace = make_workspace(tmp_workspace / key.replace(".", "-") / line[:4], port=free_port())
        text = re.sub(
            rf"(?m)^{line.split()[0]} = .*\n", "", workspace.config_file.read_text(encoding="utf-8")
        )
        workspace.config_file.write_text(text.replace(table, f"{table}\n{line}", 1), encoding="utf-8")
        result = run_cli("queue", "stats", "--workspace", str(workspace.root))
        assert result.returncode == 2, (line, result.stderr)
        assert result.stderr.startswith(f"error: autonomic.toml: {key}:"), (line, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_issue9_add_says_when_a_waiting_worker_took_the_task_at_once(
    shared_server: Server, kind: str
) -> None:
    headers = {"Authorization": f"Bearer {shared_server.token}", "X-Worker-Name": f"{kind}-poller"}
    claimed: list[httpx.Response] = []
    poll = threading.Thread(
        target=lambda: claimed.append(
            httpx.post(
                f"{shared_server.url}/api/tasks/claim",
                json={"types": [kind], "wait": 10},
                headers=headers,
                timeout=20,
            )
        )
    )
    poll.start()
    try:
        wait_until(lambda: _polls_waiting(shared_server, kind), 10, what="the long poll to be registered")
        code, out, err = cli(shared_server, "add", kind)
    finally:
        poll.join(20)
    assert code == 0, err
    assert f"handed to {kind}-poller" in out, out
    task_id = out.split("task ")[1].split()[0]
    assert [t["task_id"] for t in claimed[0].json()["tasks"]] == [task_id]


def _polls_waiting(server: Server, kind: str) -> bool:
    """The poller shows up in the worker registry once its claim reached the server."""
    headers = {"Authorization": f"Bearer {server.token}"}
    workers = httpx.get(f"{server.url}/api/workers", headers=headers).json()["workers"]
    return any(w["name"] == f"{kind}-poller" for w in workers)
