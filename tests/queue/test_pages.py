"""Issue 9, items 3 and 7 on the wire: every list endpoint is a bounded page with a cursor, cheap at 100k
tasks with /api/health answering meanwhile; the small truths of /api/stats and of a repeated key."""

from __future__ import annotations

import sqlite3
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from autonomic.queue.schemas import TaskList
from autonomic.queue.store.sqlite import SqliteStore
from tests.queue.support import Server, every_task, make_workspace, start_server

LISTS = {
    "/api/tasks": "queue",
    "/api/inflight": "inflight",
    "/api/results": "results",
    "/api/dlq": "tasks",
    "/api/workers": "workers",
}


def test_every_list_endpoint_is_a_page_with_a_cursor(shared_server: Server, kind: str) -> None:
    with shared_server.http() as http:
        created = http.post(
            "/api/tasks/batch", json={"tasks": [{"type": kind, "data": {"i": i}} for i in range(25)]}
        )
        ids = [t["task_id"] for t in created.json()["tasks"]]
        answer = http.get("/api/tasks", params={"types": kind, "limit": 10})
        # assembled by hand from per-task bytes, yet exactly what the model would have written
        assert TaskList.model_validate_json(answer.content).model_dump_json().encode() == answer.content
        first = answer.json()
        assert first["count"] == 10 and first["next_cursor"]
        assert (
            [t["task_id"] for t in first["queue"]]
            == [t["task_id"] for t in first["queue_normal"]]
            == ids[:10]
        )
        assert [t["task_id"] for t in every_task(shared_server, "pending", kind)] == ids
        # The original `limit` keeps working within the cap: 100000 is served as at most 1000.
        assert http.get("/api/tasks", params={"types": kind, "limit": 100_000}).json()["count"] == 25
        for path, key in LISTS.items():
            answer = http.get(path, params={"limit": 100_000})
            assert answer.status_code == 200, (path, answer.text)
            assert len(answer.json()[key]) <= 1000 and "next_cursor" in answer.json()
            refused = http.get(path, params={"cursor": "not-a-cursor"})
            assert refused.status_code == 422 and "cursor" in refused.json()["detail"], (path, refused.text)


def _fill(path: Path, count: int) -> None:
    """`count` pending tasks written straight into a fresh store's file (fast test setup only)."""
    SqliteStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
            "INSERT INTO tasks(id, type, data, priority, status, seq, created_at, run_at, attempts, "
            "max_attempts) SELECT printf('bulk-%08d', i), 'bulk', "
            "'{\"i\":' || i || ',\"pad\":\"' || hex(randomblob(60)) || '\"}', "
            "i % 3, 'pending', i, 1.0e9, 1.0e9, 0, 5 FROM n",
            (count,),
        )


def test_lists_stay_cheap_over_100k_tasks_and_health_keeps_answering(tmp_path: Path, pids: list[int]) -> None:
    workspace = make_workspace(tmp_path / "ws")
    workspace.queue_db.parent.mkdir(parents=True, exist_ok=True)
    _fill(workspace.queue_db, 100_000)
    server = start_server(workspace, pids)
    sizes: list[int] = []
    slowest: list[float] = []
    stop = threading.Event()

    def hammer() -> None:  # the case: GET /api/tasks?limit=100000, eight at once, again and again
        with server.http() as http:
            while not stop.is_set():
                started = time.monotonic()
                answer = http.get("/api/tasks", params={"limit": 100_000})
                slowest.append(time.monotonic() - started)
                assert answer.status_code == 200
                sizes.append(len(answer.content))

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    health: list[float] = []
    try:
        with httpx.Client(base_url=server.url, timeout=5) as probe:
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline:
                started = time.monotonic()
                assert probe.get("/api/health").json()["queue_size"] == 100_000
                health.append(time.monotonic() - started)
                time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    rss = psutil.Process(server.proc.pid).memory_info().rss
    report: dict[str, Any] = {
        "health_p50_ms": round(statistics.median(health) * 1000, 1),
        "health_max_ms": round(max(health) * 1000, 1),
        "list_p50_ms": round(statistics.median(slowest) * 1000, 1),
        "list_bytes": max(sizes),
        "lists_served": len(sizes),
        "rss_mb": round(rss / 2**20, 1),
    }
    print("100k:", report)
    assert max(sizes) < 3_000_000  # one page of 1000 (each task twice), not 79 MB
    assert report["health_p50_ms"] < 100, report
    assert report["health_max_ms"] < 2000, report  # bounded even on a machine shared by eight builds
    assert rss < 300 * 2**20, report


def test_stats_say_how_many_finished_tasks_the_rate_comes_from(shared_server: Server, kind: str) -> None:
    with shared_server.http(**{"X-Worker-Name": "w"}) as http:
        before = http.get("/api/stats").json()
        assert (
            isinstance(before["success_rate"], float | int)
            and before["success_rate_basis"] == before["completed"]
        )
        task_id = http.post("/api/tasks/create", json={"type": kind, "data": {}}).json()["task_id"]
        http.post("/api/tasks/claim", json={"types": [kind]})
        time.sleep(0.05)
        assert http.post(f"/api/tasks/{task_id}/result", json={"success": True}).status_code == 200
        after = http.get("/api/stats").json()
        assert after["success_rate_basis"] == before["success_rate_basis"] + 1
        # No duration from the worker: the server measured claim to result itself.
        duration = http.get(f"/api/results/{task_id}").json()["duration_ms"]
        assert duration is not None and 40 <= duration < 5000
        assert after["avg_duration_ms"] > 0


def test_an_idle_queue_is_recognisable_in_stats(tmp_path: Path, pids: list[int]) -> None:
    server = start_server(make_workspace(tmp_path / "ws"), pids)
    with server.http() as http:
        stats = http.get("/api/stats").json()
    assert (
        stats["success_rate"] == 100.0 and stats["success_rate_basis"] == 0 and stats["avg_duration_ms"] == 0
    )


def test_a_repeated_idempotency_key_says_where_the_task_is(shared_server: Server, kind: str) -> None:
    with shared_server.http() as http:
        body = {"type": kind, "data": {}, "idempotency_key": f"key-{kind}"}
        first = http.post("/api/tasks/create", json=body).json()
        again = http.post("/api/tasks/create", json=body).json()
    assert first["created"] and not again["created"]
    assert (
        again["task_id"] == first["task_id"] and again["message"] == f"already queued as {first['task_id']}"
    )
