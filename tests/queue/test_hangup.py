"""Issue 3: a long poll whose client hung up stops at once and never leases a task to the dead request."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from autonomic.queue.schemas import Task, TaskCreate
from autonomic.queue.server.service import QueueService
from autonomic.queue.server.waiters import Hangup
from autonomic.queue.settings import QueueSettings
from autonomic.queue.store.records import Claim, Created, NewTask, TaskRecord
from autonomic.queue.store.sqlite import SqliteStore
from tests.helpers import wait_until
from tests.queue.support import Server

LONG_POLLS = {
    "claim": ("POST", "/api/tasks/claim", '{{"types": ["{kind}"], "wait": 30}}'),
    "next": ("GET", "/api/tasks/next?types={kind}&wait=30", ""),
}


def _open_long_poll(server: Server, worker: str, method: str, path: str, body: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port))
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Authorization: Bearer {server.token}\r\nX-Worker-Name: {worker}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body.encode())
    return sock


@pytest.mark.parametrize("endpoint", sorted(LONG_POLLS))
def test_issue3_a_hung_up_long_poll_takes_no_task(shared_server: Server, kind: str, endpoint: str) -> None:
    method, path, body = LONG_POLLS[endpoint]
    worker = f"gone-{uuid.uuid4().hex[:8]}"
    sock = _open_long_poll(shared_server, worker, method, path.format(kind=kind), body.format(kind=kind))
    with shared_server.client() as client:
        wait_until(lambda: any(w["name"] == worker for w in client.workers()), what="the long poll to arrive")
        sock.close()  # the worker dies (kill -9 or SIGTERM) while idle in its poll
        client.health()  # one round trip: the server has seen the hang-up by the time this answers
        task = client.create(kind)
        time.sleep(0.3)  # what the dead poll would need to take the task (the bug being pinned)
        found = client.get(task.task_id)
        assert found.status == "pending" and found.attempts == 0, found
        claimed = client.claim([kind], wait=1.0)
        assert [(t.task_id, t.attempts) for t in claimed] == [(task.task_id, 1)]


class _SlowStore(SqliteStore):
    """A store whose claims run off the event loop (as a networked store's do), during which `during`
    runs: a seam for "the client hung up while its claim was being made"."""

    inline = False

    def __init__(self, path: Path, during: Any) -> None:
        super().__init__(path)
        self.during = during

    def claim(
        self, worker: str, types: Sequence[str], limit: int, lease: float | None = None
    ) -> list[TaskRecord]:
        tasks = super().claim(worker, types, limit, lease)
        if tasks:
            self.during()
        return tasks

    def create_and_claim(
        self, tasks: Sequence[NewTask], claims: Sequence[Claim]
    ) -> tuple[list[Created], list[list[TaskRecord]]]:
        created, handed = super().create_and_claim(tasks, claims)
        if any(handed):  # a waiting claim served by the create, its client leaving meanwhile
            self.during()
        return created, handed


@pytest.mark.parametrize("arrives", ["created", "released"])
def test_issue3_a_task_claimed_for_a_client_that_hung_up_goes_straight_back(
    tmp_path: Path, arrives: str
) -> None:
    """The task reaches the waiting poll either inside its create's transaction (handed over) or through
    the poll's own claim once woken (a task released by another worker): either way it goes back."""

    async def scenario() -> tuple[list[Task], TaskRecord]:
        loop = asyncio.get_running_loop()
        hung_up = asyncio.Event()
        left = threading.Event()

        async def receive() -> dict[str, Any]:
            await hung_up.wait()
            left.set()
            return {"type": "http.disconnect"}

        def hang_up_now() -> None:  # runs in the store's thread, in the middle of the claim
            loop.call_soon_threadsafe(hung_up.set)
            left.wait(5)
            time.sleep(0.05)  # let the loop settle the hang-up before the claim returns

        store = _SlowStore(tmp_path / "queue.db", hang_up_now)
        service = QueueService(store, QueueSettings())
        hangup = Hangup(receive)
        try:
            if arrives == "released":
                held = await service.create([service.new_task(TaskCreate(type="job", data={}))])
                assert [t.task_id for t in await service.claim("w0", ["job"], 1, 0.0, None)] == [
                    held[0].task.id
                ]
            poll = asyncio.create_task(service.claim("w1", ["job"], 1, 5.0, None, hangup))
            await asyncio.sleep(0.1)  # the poll is waiting
            if arrives == "released":
                task_id = (await service.release(held[0].task.id, "w0", 0.0, None)).task_id
            else:
                created = await service.create([service.new_task(TaskCreate(type="job", data={}))])
                task_id = created[0].task.id
            claimed = await asyncio.wait_for(poll, 5)
            return claimed, store.get(task_id)
        finally:
            hangup.close()
            store.close()

    claimed, task = asyncio.run(scenario())
    assert claimed == []
    attempts = 1 if arrives == "released" else 0  # w0's attempt counts; the hung-up poll's does not
    assert task.status == "pending" and task.attempts == attempts and task.worker is None


def test_a_long_poll_still_answers_a_client_that_stays(shared_server: Server, kind: str) -> None:
    with httpx.Client(
        base_url=shared_server.url, headers={"Authorization": f"Bearer {shared_server.token}"}
    ) as http:
        started = time.monotonic()
        answer = http.post("/api/tasks/claim", json={"types": [kind], "wait": 0.3})
        assert answer.status_code == 200 and answer.json()["tasks"] == []
        assert time.monotonic() - started >= 0.3
