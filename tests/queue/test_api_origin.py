"""The original clients' calls (ORIGIN_API.md), made as they make them, against a real server process."""

from __future__ import annotations

from datetime import datetime

import httpx

from tests.queue.support import Server

TASK_KEYS = {"task_id", "id", "type", "data", "created_at", "priority"}


def create(http: httpx.Client, kind: str, priority: str | None = None, **data: object) -> dict[str, object]:
    params = {"priority": priority} if priority is not None else None
    response = http.post("/api/tasks/create", json={"type": kind, "data": data}, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_health_has_the_original_fields_and_needs_no_token(shared_server: Server) -> None:
    body = httpx.get(shared_server.url + "/api/health").json()
    assert body["status"] == "ok" and body["service"] == "task-queue-server"
    for key in ("queue_size", "results_count", "queue_urgent", "queue_normal", "queue_low"):
        assert isinstance(body[key], int)
    datetime.fromisoformat(str(body["timestamp"]))
    assert httpx.get(shared_server.url + "/health").json()["service"] == "task-queue-server"


def test_create_answers_the_original_shape(shared_server: Server, kind: str) -> None:
    with shared_server.http() as http:
        body = create(http, kind, "urgent", x=1)
        assert body["message"] == "Task created" and body["priority"] == "urgent"
        assert body["task_id"] == body["id"] and isinstance(body["queue_position"], int)


def test_an_unknown_priority_means_normal(shared_server: Server, kind: str) -> None:
    with shared_server.http() as http:
        assert create(http, kind, "whenever")["priority"] == "normal"


def test_next_hands_out_the_bare_task_then_null(shared_server: Server, kind: str) -> None:
    with shared_server.http(**{"X-Worker-Name": "legacy"}) as http:
        created = create(http, kind, note="hi")
        task = http.get("/api/tasks/next", params={"types": kind}).json()
        assert set(task) >= TASK_KEYS and task["task_id"] == created["task_id"] == task["id"]
        assert task["data"] == {"note": "hi"} and task["status"] == "leased" and task["worker"] == "legacy"
        assert http.post("/api/tasks/next", params={"types": kind}).json() == {"task": None}


def test_enqueue_takes_the_lenient_legacy_fields(shared_server: Server, kind: str) -> None:
    with shared_server.http(**{"X-Worker-Name": "legacy"}) as http:
        body = http.post(
            "/api/enqueue", json={"task_type": kind, "params": {"a": 1}, "priority": "low"}
        ).json()
        assert body["message"] == "Task created" and body["priority"] == "low"
        http.post("/api/enqueue", json={"type": kind, "data": {"b": 2}})
        http.post("/api/enqueue", json={"task_type": kind})
        got = [http.get("/api/tasks/next", params={"types": kind}).json() for _ in range(3)]
        assert [t["data"] for t in got] == [{"b": 2}, {}, {"a": 1}]  # normal before low
        generic = http.post("/api/enqueue", json={}).json()
        assert http.get(f"/api/tasks/{generic['task_id']}").json()["type"] == "generic"


def test_a_result_is_stored_once_and_read_back(shared_server: Server, kind: str) -> None:
    with shared_server.http(**{"X-Worker-Name": "legacy"}) as http:
        task_id = create(http, kind)["task_id"]
        http.get("/api/tasks/next", params={"types": kind})
        answer = http.post(f"/api/tasks/{task_id}/result", json={"success": True, "data": {"duration_ms": 7}})
        assert answer.json() == {"message": "Result submitted", "success": True}
        result = http.get(f"/api/results/{task_id}").json()
        assert result["task_id"] == task_id and result["success"] is True and result["error"] is None
        assert result["data"] == {"duration_ms": 7}
        datetime.fromisoformat(result["submitted_at"])
        # The original let anyone overwrite any result; the first one stands now.
        again = http.post(f"/api/tasks/{task_id}/result", json={"success": False, "error": "x"})
        assert again.status_code == 409 and "detail" in again.json()
        assert http.get(f"/api/results/{task_id}").json()["success"] is True


def test_results_for_unknown_tasks_are_404(shared_server: Server) -> None:
    with shared_server.http() as http:
        posted = http.post("/api/tasks/no-such-task/result", json={"success": True})
        assert posted.status_code == 404 and "no-such-task" in posted.json()["detail"]
        assert http.get("/api/results/no-such-task").status_code == 404


def test_task_listing_has_both_shapes(shared_server: Server, kind: str) -> None:
    with shared_server.http() as http:
        create(http, kind, "urgent")
        create(http, kind, "low")
        body = http.get("/api/tasks", params={"types": kind}).json()
        assert [t["priority"] for t in body["queue"]] == ["urgent", "low"]
        assert body["queue_size"] == body["total_queue_size"] >= 2
        assert len(body["queue_urgent"]) == 1 and len(body["queue_low"]) == 1 and body["queue_normal"] == []


def test_inflight_lists_leased_tasks(shared_server: Server, kind: str) -> None:
    with shared_server.http(**{"X-Worker-Name": "w-inflight"}) as http:
        task_id = create(http, kind)["task_id"]
        http.get("/api/tasks/next", params={"types": kind})
        body = http.get("/api/inflight").json()
        mine = [i for i in body["inflight"] if i["task_id"] == task_id]
        assert body["count"] == len(body["inflight"]) and len(mine) == 1
        assert mine[0]["worker"] == "w-inflight" and mine[0]["type"] == kind and mine[0]["age_sec"] >= 0
        assert mine[0]["leased_at"]


def test_results_list_honours_count_and_limit(shared_server: Server, kind: str) -> None:
    with shared_server.http(**{"X-Worker-Name": "w"}) as http:
        for n in range(3):
            task_id = create(http, kind)["task_id"]
            http.get("/api/tasks/next", params={"types": kind})
            http.post(f"/api/tasks/{task_id}/result", json={"success": True, "data": {"n": n}})
        by_count = http.get("/api/results", params={"count": 2}).json()
        by_limit = http.get("/api/results", params={"limit": 1}).json()
        assert by_count["count"] == len(by_count["results"]) == 2 and by_limit["count"] == 1
        assert by_limit["results"][0]["data"] == {"n": 2}  # newest first


def test_stats_have_the_original_fields(shared_server: Server) -> None:
    with shared_server.http() as http:
        body = http.get("/api/stats").json()
    keys = {
        "pending",
        "inflight",
        "completed",
        "successful",
        "failed",
        "success_rate",
        "workers",
        "avg_duration_ms",
        "timestamp",
        "pending_urgent",
        "pending_normal",
        "pending_low",
    }
    assert keys <= set(body)
    assert 0 <= body["success_rate"] <= 100
    assert body["completed"] == body["successful"] + body["failed"]


def test_stats_count_registered_idle_workers(shared_server: Server) -> None:
    """The original counted lease holders only, so an idle system raised 'no active workers'."""
    with shared_server.client("idle-worker") as client:
        from autonomic.queue.schemas import WorkerInfo

        client.heartbeat(WorkerInfo(name="idle-worker", types=["ping"], concurrency=2, running=0))
        assert client.stats()["workers"] >= 1
        assert any(w["name"] == "idle-worker" and w["live"] for w in client.workers())


def test_the_older_dialect_is_served(shared_server: Server, kind: str) -> None:
    with shared_server.http() as http:
        task = http.post("/api/tasks", json={"task_type": kind, "data": {"q": 1}, "requester": "old"}).json()
        assert set(task) >= TASK_KEYS and task["type"] == kind and task["status"] == "pending"
        assert http.get(f"/api/tasks/{task['task_id']}").json()["data"] == {"q": 1}
        assert http.get("/api/tasks/unknown-id").status_code == 404


def test_openapi_and_docs_are_served(shared_server: Server) -> None:
    schema = httpx.get(shared_server.url + "/openapi.json").json()
    assert "/api/tasks/next" in schema["paths"] and "/api/tasks/claim" in schema["paths"]
    assert httpx.get(shared_server.url + "/docs").status_code == 200
