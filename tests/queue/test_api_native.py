"""autonomic's own endpoints, through the Python client, against a real server process."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from autonomic.errors import QueueUnavailable, ResultTimeout, TaskConflict, TaskNotFound
from autonomic.queue.client import AsyncQueueClient, QueueClient
from autonomic.queue.schemas import ResultIn, TaskCreate, WorkerInfo
from autonomic.queue.task import TaskStatus
from tests.helpers import free_port, wait_until
from tests.queue.support import Server, make_workspace, start_server


def test_a_waiting_worker_gets_a_new_task_at_once(shared_server: Server, kind: str) -> None:
    got: list[float] = []

    def worker() -> None:
        with shared_server.client("long-poller") as client:
            tasks = client.claim([kind], wait=5.0)
            got.append(time.monotonic())
            assert len(tasks) == 1

    thread = threading.Thread(target=worker)
    thread.start()
    wait_until(
        lambda: any(w["name"] == "long-poller" for w in shared_server.client().workers()),
        what="the worker's long poll to arrive",
    )
    with shared_server.client() as client:
        sent = time.monotonic()
        client.create(kind)
    thread.join(timeout=10)
    assert got and got[0] - sent < 0.5  # woken by the enqueue, not by the 5 s timeout


def test_a_long_poll_ends_empty_after_its_wait(shared_server: Server, kind: str) -> None:
    with shared_server.client() as client:
        started = time.monotonic()
        assert client.claim([kind], wait=0.3) == []
        assert 0.25 <= time.monotonic() - started < 3


def test_claims_are_filtered_by_type_and_batched(shared_server: Server, kind: str) -> None:
    with shared_server.client() as client:
        client.create_many([TaskCreate(type=kind, data={"n": n}) for n in range(5)])
        client.create(kind + "-other")
        first = client.claim([kind], max_tasks=3)
        rest = client.claim([kind], max_tasks=10)
        assert [t.data["n"] for t in first + rest] == [0, 1, 2, 3, 4]
        assert {t.type for t in first + rest} == {kind}
        client.submit_many([ResultIn(task_id=t.task_id, success=True, data={}) for t in first + rest])
        assert all(client.get(t.task_id).status is TaskStatus.DONE for t in first + rest)


def test_a_batch_result_refuses_only_the_bad_items(shared_server: Server, kind: str) -> None:
    with shared_server.client() as client:
        task = client.create(kind)
        client.claim([kind])
        with pytest.raises(TaskNotFound, match="1 of 2 results refused"):
            client.submit_many(
                [ResultIn(task_id=task.task_id, success=True), ResultIn(task_id="nope", success=True)]
            )
        result = client.result(task.task_id)
        assert result is not None and result.success


def test_idempotent_create_returns_the_same_task(shared_server: Server, kind: str) -> None:
    with shared_server.client() as client:
        first = client.create(kind, {"v": 1}, idempotency_key=kind)
        again = client.create(kind, {"v": 2}, idempotency_key=kind)
        assert again.task_id == first.task_id and again.data == {"v": 1}
        assert len(client.tasks(types=[kind])) == 1


def test_a_delayed_task_is_handed_out_when_due(shared_server: Server, kind: str) -> None:
    with shared_server.client() as client:
        task = client.create(kind, delay=0.5)
        assert client.claim([kind]) == []
        started = time.monotonic()
        claimed = client.claim([kind], wait=3.0)  # the long poll wakes when the task is due
        assert [t.task_id for t in claimed] == [task.task_id]
        assert time.monotonic() - started < 2.0


def test_lease_extend_release_and_cancel(shared_server: Server, kind: str) -> None:
    with shared_server.client("holder") as holder, shared_server.client("other") as other:
        task = holder.create(kind, max_attempts=2)
        [claimed] = holder.claim([kind], lease=30)
        assert holder.extend(claimed.task_id, 60) is True
        assert other.extend(claimed.task_id, 60) is False
        with pytest.raises(TaskConflict):
            other.release(claimed.task_id)
        holder.release(claimed.task_id, error="try later")
        again = holder.get(task.task_id)
        assert again.status is TaskStatus.PENDING and again.last_error == "try later"
        holder.cancel(task.task_id)
        assert holder.get(task.task_id).status is TaskStatus.CANCELLED
        with pytest.raises(TaskConflict):
            holder.cancel(task.task_id)


def test_run_waits_for_the_result_in_one_call(shared_server: Server, kind: str) -> None:
    def worker() -> None:
        with shared_server.client("runner") as client:
            for task in client.claim([kind], wait=5.0):
                client.submit(task.task_id, True, {"echo": task.data})

    thread = threading.Thread(target=worker)
    thread.start()
    with shared_server.client() as client:
        result = client.run(kind, {"x": 1}, timeout=5.0)
    thread.join(timeout=10)
    assert result.success and result.data == {"echo": {"x": 1}}


def test_run_without_a_worker_times_out_clearly(shared_server: Server, kind: str) -> None:
    with shared_server.client() as client, pytest.raises(ResultTimeout, match="stays queued") as raised:
        client.run(kind, timeout=0.2)
    assert f"({kind}) has no result yet" in str(raised.value)


def test_heartbeats_show_in_the_worker_registry(shared_server: Server) -> None:
    with shared_server.client("beater") as client:
        client.heartbeat(
            WorkerInfo(name="beater", types=["ping", "ocr"], concurrency=4, running=1, host="box")
        )
        [me] = [w for w in client.workers() if w["name"] == "beater"]
    assert me["live"] and me["info"]["types"] == ["ping", "ocr"] and me["info"]["host"] == "box"


def test_the_async_client_has_the_same_surface(shared_server: Server, kind: str) -> None:
    async def scenario() -> None:
        async with AsyncQueueClient(shared_server.url, shared_server.token, "async-worker") as client:
            task = await client.create(kind, {"a": 1}, "urgent")
            [claimed] = await client.claim([kind], wait=1.0)
            assert claimed.task_id == task.task_id and await client.extend(task.task_id, 30)
            await client.submit(task.task_id, True, {"ok": 1})
            result = await client.result(task.task_id)
            assert result is not None and result.data == {"ok": 1}
            assert (await client.get(task.task_id)).status is TaskStatus.DONE
            assert (await client.health())["status"] == "ok"

    asyncio.run(scenario())


def test_an_unreachable_server_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with (
        QueueClient(url, "t", timeout=2.0) as client,
        pytest.raises(QueueUnavailable, match="not reachable at"),
    ):
        client.health()


def test_an_expired_lease_is_reclaimed_by_the_timer_and_redelivered(
    tmp_workspace: Path, pids: list[int]
) -> None:
    server = start_server(make_workspace(tmp_workspace, reap_interval="50ms", retry_delay="0s"), pids)
    with server.client("first") as first, server.client("second") as second:
        task = first.create("job")
        first.claim(["job"], lease=0.3)
        # Nobody calls next: the server's own timer must put the task back.
        wait_until(lambda: first.get(task.task_id).status is TaskStatus.PENDING, timeout=5, what="reclaim")
        [again] = second.claim(["job"])
        assert again.task_id == task.task_id and again.attempts == 2
        # The first worker's late result is accepted once; the new holder then learns it lost the task.
        first.submit(task.task_id, True, {"by": "first"})
        assert second.extend(task.task_id, 30) is False
        with pytest.raises(TaskConflict):
            second.submit(task.task_id, True, {"by": "second"})


def test_a_poison_task_is_dead_lettered_and_requeued_by_hand(tmp_workspace: Path, pids: list[int]) -> None:
    server = start_server(make_workspace(tmp_workspace, reap_interval="50ms", retry_delay="0s"), pids)
    with server.client("crashy") as client:
        task = client.create("poison", max_attempts=2)
        for _ in range(2):
            wait_until(lambda: client.claim(["poison"], lease=0.2), timeout=5, what="a delivery")
        wait_until(
            lambda: client.get(task.task_id).status is TaskStatus.DEAD, timeout=5, what="dead-lettering"
        )
        assert [t.task_id for t in client.dead_letters()] == [task.task_id]
        assert client.requeue(task.task_id).attempts == 0
        assert [t.task_id for t in client.claim(["poison"])] == [task.task_id]
