"""Prefetch: a reserve claimed in one request never breaks the queue's guarantees.

Every task here runs `recorder:record`, which appends "N PID" to a file per run, so a test can tell
which process ran what and how often.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import wait_until
from tests.worker.conftest import Server, Stack, wait_exit

RECORDER = """
import asyncio, os

async def record(n, seconds=0.0, log="runs.txt"):
    if seconds:
        await asyncio.sleep(seconds)
    with open(os.path.join(os.path.dirname(__file__), log), "a") as out:
        out.write(f"{n} {os.getpid()}\\n")
    return {"n": n}
"""
PYTHON_WORKER = {"allow": ["python"], "python_modules": ["recorder"], "concurrency": 2, "prefetch": 4}


def _workspace(stack: Stack, **worker: Any) -> Path:
    root = stack.workspace(worker={**PYTHON_WORKER, **worker})
    (root / "recorder.py").write_text(RECORDER, encoding="utf-8")
    return root


def _enqueue(server: Server, count: int, seconds: float = 0.0, priority: str = "normal") -> list[str]:
    tasks = [
        {
            "type": "python",
            "data": {"function": "recorder:record", "args": [n, seconds]},
            "priority": priority,
        }
        for n in range(count)
    ]
    ids: list[str] = []
    with server.api() as api:
        for start in range(0, count, 500):
            answer = api.post("/api/tasks/batch", json={"tasks": tasks[start : start + 500]})
            answer.raise_for_status()
            ids += [task["task_id"] for task in answer.json()["tasks"]]
    return ids


def _runs(root: Path) -> list[tuple[int, int]]:
    path = root / "runs.txt"
    if not path.exists():
        return []
    return [(int(n), int(pid)) for n, pid in (line.split() for line in path.read_text().splitlines())]


def _stats(server: Server) -> dict[str, Any]:
    with server.api() as api:
        found: dict[str, Any] = api.get("/api/stats").json()
        return found


def _leased(server: Server) -> int:
    return int(_stats(server)["inflight"])


def test_issue9_no_task_lost_or_run_twice_when_workers_are_killed_or_stopped_mid_drain(stack: Stack) -> None:
    root = _workspace(stack)
    server = stack.server(root)
    total = 600
    ids = _enqueue(server, total, seconds=0.004)
    killed = stack.worker(root, name="killed")
    stopped = stack.worker(root, name="stopped")
    stack.worker(root, name="third")
    wait_until(lambda: len(_runs(root)) >= 150, timeout=60, what="150 tasks run")
    os.kill(killed.pid, signal.SIGKILL)
    killed.process.wait(timeout=10)
    wait_until(lambda: len(_runs(root)) >= 300, timeout=60, what="300 tasks run")
    os.kill(stopped.pid, signal.SIGTERM)
    assert wait_exit(stopped.process, timeout=20) == 0, stopped.output()
    stack.worker(root, name="late")  # joins after the kill and the stop

    def drained() -> bool:
        stats = _stats(server)
        return bool(stats["pending"] == 0 and stats["inflight"] == 0)

    wait_until(drained, timeout=120, what="the queue to drain")
    runs = _runs(root)
    by_task: defaultdict[int, list[int]] = defaultdict(list)
    for n, pid in runs:
        by_task[n].append(pid)
    assert set(by_task) == set(range(total)), "every acknowledged task ran"
    for n, pids in by_task.items():
        survivors = [pid for pid in pids if pid != killed.pid]
        # a second run only after a kill -9 (its lease expired): never two by live workers
        assert len(survivors) <= 1, (n, pids)
        assert len(pids) <= 2, (n, pids)
    with server.api() as api:
        for task_id in ids:
            task = api.get(f"/api/tasks/{task_id}").json()
            assert task["status"] == "done", task
    twice = sum(1 for pids in by_task.values() if len(pids) == 2)
    assert twice <= 2 * (1 + 4 * 2), f"{twice} reruns: more than the killed worker could hold"


def test_issue9_sigterm_hands_the_reserve_back_at_once(stack: Stack) -> None:
    root = _workspace(stack, concurrency=1, prefetch=4, drain_timeout="10s")
    server = stack.server(root)
    _enqueue(server, 5, seconds=3.0)
    worker = stack.worker(root)
    wait_until(lambda: _leased(server) == 5, timeout=20, what="one running and four in reserve")
    os.kill(worker.pid, signal.SIGTERM)
    started = time.monotonic()
    wait_until(lambda: _leased(server) == 1, timeout=5, what="the reserve back in the queue")
    assert time.monotonic() - started < 2.5  # not after their lease, not after the running task
    assert wait_exit(worker.process, timeout=15) == 0
    assert "handed back 4 of 4 reserved task(s)" in worker.output(), worker.output()
    stack.worker(root, "--concurrency", "4", name="next")
    wait_until(lambda: len(_runs(root)) == 5, timeout=30, what="the other worker to run the four")
    assert sorted(n for n, _ in _runs(root)) == [0, 1, 2, 3, 4]


def test_issue9_after_kill_9_the_reserve_returns_after_its_lease(stack: Stack) -> None:
    root = _workspace(stack, concurrency=1, prefetch=4, lease="2s")
    server = stack.server(root)
    _enqueue(server, 5, seconds=30.0)
    worker = stack.worker(root)
    wait_until(lambda: _leased(server) == 5, timeout=20, what="one running and four in reserve")
    os.kill(worker.pid, signal.SIGKILL)
    worker.process.wait(timeout=10)
    wait_until(lambda: _stats(server)["pending"] == 5, timeout=15, what="the leases to expire")


def test_issue9_leases_of_waiting_tasks_are_kept(stack: Stack) -> None:
    """A reserve that waits longer than its lease is extended, so nothing is handed out twice."""
    root = _workspace(stack, concurrency=1, prefetch=2, lease="1s")
    server = stack.server(root)
    _enqueue(server, 3, seconds=0.8)  # the third waits ~1.6 s in the reserve: longer than its lease
    stack.worker(root)
    stack.worker(root, name="other")
    wait_until(lambda: len(_runs(root)) == 3, timeout=30, what="three runs")
    time.sleep(1.5)
    assert Counter(n for n, _ in _runs(root)) == Counter({0: 1, 1: 1, 2: 1})


def test_issue9_an_urgent_task_does_not_wait_behind_reserves(stack: Stack) -> None:
    root = _workspace(stack, concurrency=1, prefetch=4)
    server = stack.server(root)
    _enqueue(server, 30, seconds=0.6)
    stack.worker(root, name="a")
    stack.worker(root, name="b")
    wait_until(lambda: _leased(server) == 10, timeout=20, what="both workers full, reserves included")
    with server.api() as api:
        started = time.monotonic()
        answer = api.post(
            "/api/tasks/create?wait=20",
            json={
                "type": "python",
                "data": {"function": "recorder:record", "args": [999]},
                "priority": "urgent",
            },
        )
    waited = time.monotonic() - started
    assert answer.status_code == 200 and answer.json()["result"]["success"], answer.text
    # one short task (0.6 s) at most, plus slack; behind a reserve it would be 4 x 0.6 s or more
    assert waited < 2.0, waited


def test_issue7_a_claim_that_can_never_succeed_stops_the_worker_with_one_line(stack: Stack) -> None:
    """A server that answers claims with a 4xx (here: not a queue server at all) is not retried forever."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    class NotAQueue(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = b'{"detail": "Not Found"}'
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    other = ThreadingHTTPServer(("127.0.0.1", 0), NotAQueue)
    Thread(target=other.serve_forever, daemon=True).start()
    try:
        root = _workspace(stack)
        url = f"http://127.0.0.1:{other.server_address[1]}"
        worker = stack.worker(root, "--server", url, wait_ready=False)
        code = wait_exit(worker.process, timeout=20)
        assert code != 0
        output = worker.output()
        assert f"the queue server at {url} refuses this worker's claims" in output, output
        assert "Traceback" not in output
    finally:
        other.shutdown()
        other.server_close()


def test_the_heartbeat_tells_the_server_the_prefetch(stack: Stack) -> None:
    root = _workspace(stack, prefetch=7)
    server = stack.server(root)
    stack.worker(root, name="w")

    def info() -> dict[str, Any] | None:
        workers = httpx.get(
            f"{server.url}/api/workers", headers={"Authorization": f"Bearer {server.token}"}, timeout=5
        ).json()["workers"]
        return next((w["info"] for w in workers if w["name"] == "w"), None)

    found = wait_until(info, timeout=10, what="the worker's heartbeat")
    assert found["prefetch"] == 7 and found["concurrency"] == 2 and "python" in found["types"]
