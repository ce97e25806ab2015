"""Nothing acknowledged is lost across kill -9; clean SIGTERM; clear errors when the server cannot run."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from autonomic.errors import QueueError
from autonomic.queue.schemas import TaskCreate
from autonomic.queue.task import TaskStatus
from tests.helpers import run_cli, wait_until
from tests.queue.support import every_task, make_workspace, start_server


@pytest.mark.parametrize("sync", ["normal", "full"])
def test_kill_9_mid_stream_loses_no_acknowledged_task(
    tmp_workspace: Path, pids: list[int], sync: str
) -> None:
    workspace = make_workspace(tmp_workspace, sync=sync, lease="1s", reap_interval="100ms", retry_delay="0s")
    server = start_server(workspace, pids)
    acknowledged: list[str] = []
    stop = threading.Event()

    def enqueue_until_the_server_dies() -> None:
        with server.client("writer") as client:
            n = 0
            while not stop.is_set():
                try:
                    if n % 2:
                        batch = [TaskCreate(type="durable", data={"n": n, "i": i}) for i in range(10)]
                        acknowledged.extend(t.task_id for t in client.create_many(batch))
                    else:
                        acknowledged.append(client.create("durable", {"n": n}).task_id)
                except QueueError:
                    return  # the server is gone: what was acknowledged before this is all that counts
                n += 1

    writer = threading.Thread(target=enqueue_until_the_server_dies)
    writer.start()
    with server.client("holder") as holder:
        wait_until(lambda: len(acknowledged) >= 100, timeout=30, what="100 acknowledged tasks")
        # in flight at the crash, on a lease long enough to outlast the restart
        held = [t.task_id for t in holder.claim(["durable"], max_tasks=5, lease=8.0)]
    wait_until(lambda: len(acknowledged) >= 300, timeout=30, what="300 acknowledged tasks")
    server.kill()
    stop.set()
    writer.join(timeout=15)
    assert not writer.is_alive()

    restarted = start_server(workspace, pids)
    with restarted.client("after") as client:
        pending = {t["task_id"] for t in every_task(restarted, TaskStatus.PENDING, "durable")}
        leased = {t["task_id"] for t in every_task(restarted, TaskStatus.LEASED, "durable")}
        assert set(acknowledged) <= pending | leased, "an acknowledged task was lost"
        assert set(held) <= leased
        # The tasks leased to a worker that died with the server come back when their lease expires.
        wait_until(
            lambda: not client.tasks(TaskStatus.LEASED, types=["durable"]),
            timeout=20,
            what="expired leases reclaimed after restart",
        )
        drained: set[str] = set()
        while batch := client.claim(["durable"], max_tasks=1000):
            drained.update(t.task_id for t in batch)
        assert set(acknowledged) <= drained


def test_sigterm_answers_long_polls_and_exits_promptly(tmp_workspace: Path, pids: list[int]) -> None:
    server = start_server(make_workspace(tmp_workspace), pids)
    answers: list[object] = []

    def long_poll() -> None:
        with server.client("sleeper") as client:
            try:
                answers.append(client.claim(["never"], wait=30.0))
            except QueueError as exc:
                answers.append(exc)

    thread = threading.Thread(target=long_poll)
    thread.start()
    wait_until(lambda: any(w["name"] == "sleeper" for w in server.client().workers()), what="the long poll")
    started = time.monotonic()
    server.terminate(timeout=10)
    thread.join(timeout=10)
    assert time.monotonic() - started < 5, "shutdown waited for the long poll's 30 s"
    assert answers == [[]]  # the waiting worker got an empty answer, not a broken connection
    start_server(workspace=server.workspace, pids=pids)  # and the database lock was released


def test_a_corrupt_database_is_a_clear_error_not_a_traceback(tmp_workspace: Path) -> None:
    workspace = make_workspace(tmp_workspace)
    workspace.queue_db.write_bytes(b"garbage" * 1000)
    result = run_cli("serve", "--workspace", str(workspace.root), timeout=30)
    assert result.returncode == 1
    assert "queue.db: the queue database is damaged (file is not a database)" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_busy_port_is_a_clear_error(tmp_workspace: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        workspace = make_workspace(tmp_workspace, port=port)
        result = run_cli("serve", "--workspace", str(workspace.root), timeout=30)
    assert result.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
