"""The worker as a process: leases across kill -9, timeouts, SIGTERM drain, routing, a lost server."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from autonomic.workspace import Workspace
from tests.helpers import alive, free_port, wait_until
from tests.worker.conftest import Stack, wait_exit

JOBS = """
import pathlib, time

def slow(marker, seconds):
    path = pathlib.Path(marker)
    with path.open("a") as f:
        f.write("start\\n")
    time.sleep(seconds)
    with path.open("a") as f:
        f.write("end\\n")
    return {"slept": seconds}
"""


def test_issue4_kill_9_mid_task_is_completed_once_by_another_worker(stack: Stack, tmp_path: Path) -> None:
    root = stack.workspace(worker={"allow": ["python"], "python_modules": ["jobs"], "lease": "1s"})
    (root / "jobs.py").write_text(JOBS)
    marker = tmp_path / "marker.txt"
    server = stack.server(root)
    first = stack.worker(root, name="first")
    task_id = server.create("python", {"function": "jobs:slow", "args": [str(marker), 1.5]})
    wait_until(lambda: marker.exists() and "start" in marker.read_text(), timeout=10, what="the first run")
    os.kill(first.pid, signal.SIGKILL)
    first.process.wait(timeout=5)
    stack.worker(root, name="second")
    result = server.result(task_id, timeout=20)
    assert result["success"] and result["worker"] == "second", result
    assert result["data"]["slept"] == 1.5
    assert marker.read_text().splitlines() == ["start", "start", "end"]  # ran to the end exactly once
    task = server.task(task_id)
    # Exactly 2 deliveries: the dead worker's open long poll hung up with it, so it is not handed the
    # task once more when the first lease expires (issue 3).
    assert task["status"] == "done" and task["attempts"] == 2, task
    with server.api() as api:
        results = api.get("/api/results", params={"limit": 100}).json()["results"]
    assert [r["task_id"] for r in results].count(task_id) == 1


def test_a_task_longer_than_its_lease_runs_once_because_the_lease_is_extended(
    stack: Stack, tmp_path: Path
) -> None:
    root = stack.workspace(worker={"lease": "0.6s", "concurrency": 2})
    server = stack.server(root)
    stack.worker(root, name="a")
    stack.worker(root, name="b")
    task_id = server.create("wait", {"seconds": 2.0})
    result = server.result(task_id, timeout=15)
    assert result["success"] and server.task(task_id)["attempts"] == 1


def test_timeout_fails_the_task_and_the_worker_goes_on(stack: Stack) -> None:
    root = stack.workspace(worker={"task_timeout": "1s"})
    server = stack.server(root)
    stack.worker(root)
    started = time.monotonic()
    timed_out = server.run("wait", {"seconds": 30})
    assert time.monotonic() - started < 5
    assert not timed_out["success"] and timed_out["error"] == "timed out after 1s", timed_out
    assert timed_out["data"].keys() == {"execution_time"} and 0.9 <= timed_out["data"]["execution_time"] < 2
    shorter = server.run("rpa", {"action": "wait", "params": {"seconds": 5}, "timeout": 0.3})
    assert shorter["error"] == "timed out after 0.3s"
    assert server.run("ping")["success"]


def test_sigterm_lets_a_running_task_finish_then_exits(stack: Stack) -> None:
    root = stack.workspace(worker={"drain_timeout": "10s"})
    server = stack.server(root)
    worker = stack.worker(root)
    task_id = server.create("wait", {"seconds": 1.0})
    wait_until(lambda: server.task(task_id)["status"] == "leased", timeout=10)
    os.kill(worker.pid, signal.SIGTERM)
    assert wait_exit(worker.process, timeout=8) == 0
    result = server.result(task_id, timeout=2)
    assert result["success"] and result["data"]["slept"] == 1.0
    assert "stopped (1 task(s) run, 1 result(s) sent)" in worker.output()


def test_sigterm_releases_what_does_not_finish_within_the_grace_period(stack: Stack) -> None:
    root = stack.workspace(worker={"drain_timeout": "0.5s"})
    server = stack.server(root)
    worker = stack.worker(root, name="leaving")
    task_id = server.create("wait", {"seconds": 2})
    wait_until(lambda: server.task(task_id)["status"] == "leased", timeout=10)
    started = time.monotonic()
    os.kill(worker.pid, signal.SIGTERM)
    assert wait_exit(worker.process, timeout=8) == 0
    assert time.monotonic() - started < 3
    assert "released 1 of 1 unfinished task(s)" in worker.output()
    # Straight back in the queue, its one delivery counted: the worker's open long poll left with it and
    # is not handed the released task to hold for a whole lease (issue 3).
    task = server.task(task_id)
    assert task["status"] == "pending" and task["attempts"] == 1 and task["worker"] is None, task
    stack.worker(root, name="next")
    result = server.result(task_id, timeout=15)
    assert result["success"] and result["worker"] == "next"
    assert server.task(task_id)["attempts"] == 2


def test_issue3_a_worker_stopped_in_its_long_poll_leaves_the_next_task_to_others(stack: Stack) -> None:
    root = stack.workspace()
    server = stack.server(root)
    worker = stack.worker(root, name="leaving")
    assert server.run("ping")["worker"] == "leaving"  # it is up and long-polling again
    os.kill(worker.pid, signal.SIGTERM)
    assert wait_exit(worker.process, timeout=5) == 0
    task_id = server.create("ping")
    time.sleep(0.3)  # what a dead long poll would need to take the task (the bug being pinned)
    task = server.task(task_id)
    assert task["status"] == "pending" and task["attempts"] == 0, task
    stack.worker(root, name="next")
    assert server.result(task_id)["worker"] == "next" and server.task(task_id)["attempts"] == 1


def test_routing_each_worker_claims_only_its_own_types(stack: Stack) -> None:
    root = stack.workspace()
    server = stack.server(root)
    stack.worker(root, "--types", "ping", name="pinger")
    stack.worker(root, "--types", "wait,health_check", name="waiter")
    pings = [server.create("ping") for _ in range(5)]
    waits = [server.create("wait", {"seconds": 0.01}) for _ in range(5)]
    foreign = server.create("send_email", {"to": "someone"})
    assert {server.result(t)["worker"] for t in pings} == {"pinger"}
    assert {server.result(t)["worker"] for t in waits} == {"waiter"}
    time.sleep(0.5)
    assert server.task(foreign)["status"] == "pending" and server.task(foreign)["attempts"] == 0
    with server.api() as api:
        workers = {w["name"]: w for w in api.get("/api/workers").json()["workers"]}
    assert workers["pinger"]["live"] and workers["pinger"]["info"]["types"] == ["ping"]
    assert workers["waiter"]["info"]["types"] == ["health_check", "wait"]
    health = server.run("health_check")
    assert health["data"]["status"] == "healthy" and health["data"]["capabilities"] == [
        "health_check",
        "wait",
    ]


def test_without_a_server_it_keeps_its_heartbeat_and_connects_when_the_server_comes(stack: Stack) -> None:
    port = free_port()
    root = stack.workspace(port=port)
    worker = stack.worker(root, wait_ready=False)
    beat = Workspace.at(root).heartbeat_file("worker")
    wait_until(beat.exists, timeout=10, what="the heartbeat file")
    first = beat.stat().st_mtime
    wait_until(
        lambda: beat.stat().st_mtime > first, timeout=15, what="the heartbeat file to be touched again"
    )
    time.sleep(1.5)
    assert worker.output().count("unreachable") == 1, worker.output()  # one line, not one per retry
    server = stack.server(root)
    assert server.run("ping", timeout=15)["success"]
    assert "connected to the queue server" in worker.output()
    assert alive(worker.pid)


def test_many_small_tasks_are_claimed_and_reported_in_batches(stack: Stack) -> None:
    root = stack.workspace(worker={"concurrency": 8})
    server = stack.server(root)
    ids = []
    with server.api() as api:
        for _ in range(40):
            ids.append(api.post("/api/tasks/create", json={"type": "ping", "data": {}}).json()["task_id"])
    worker = stack.worker(root)
    for task_id in ids:
        assert server.result(task_id)["success"]
    started = time.monotonic()
    os.kill(worker.pid, signal.SIGTERM)  # idle, in the middle of a long poll: it leaves at once
    assert wait_exit(worker.process, timeout=5) == 0 and time.monotonic() - started < 2
