"""The single-task round trip: a result handed over in memory is the stored one, and answers leave whole."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from autonomic.queue.server.connections import _Corked
from autonomic.queue.store.records import NewTask, Submission
from autonomic.queue.store.sqlite import SqliteStore
from tests.queue.support import Server


def _answer_once(server: Server, kind: str, data: dict[str, Any]) -> threading.Thread:
    """A worker thread that claims one task of `kind` and answers it with `data`."""

    def work() -> None:
        with server.client("hand-over") as client:
            for task in client.claim([kind], wait=5.0):
                client.submit(task.task_id, True, data)

    thread = threading.Thread(target=work)
    thread.start()
    return thread


def test_the_result_handed_to_a_waiting_creator_is_the_stored_one(shared_server: Server, kind: str) -> None:
    thread = _answer_once(shared_server, kind, {"n": 1.5, "text": "é", "nested": {"list": [1, None]}})
    with shared_server.client() as client:
        handed = client.run(kind, {"x": 1}, timeout=5.0)
        thread.join(timeout=10)
        stored = client.result(handed.task_id)
    assert stored is not None
    assert handed == stored  # every field: data, worker, type, submitted_at, duration_ms
    assert handed.worker == "hand-over" and handed.duration_ms is not None


def test_a_repeated_key_with_wait_answers_the_stored_result(shared_server: Server, kind: str) -> None:
    thread = _answer_once(shared_server, kind, {"first": True})
    with shared_server.client() as client:
        first = client.run(kind, timeout=5.0, idempotency_key=f"{kind}-key")
        thread.join(timeout=10)
        again = client.run(kind, timeout=5.0, idempotency_key=f"{kind}-key")  # no worker: read from the store
    assert again == first and again.data == {"first": True}


def test_an_accepted_submission_carries_what_the_store_reads_back(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "q.db")
    try:
        [made] = store.create([NewTask(type="ping", data={})])
        [task] = store.claim("w1", ["ping"], 1, 60.0)
        [outcome] = store.submit([Submission(task.id, False, {"why": ["x"]}, "broke", "w1")])
        assert outcome.accepted and outcome.result == store.result(made.task.id)
        [late] = store.submit([Submission(task.id, True, {}, None, "w1")])
        assert not late.accepted and late.result is None
    finally:
        store.close()


class _Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def _corked() -> tuple[_Corked, _Transport]:
    transport = _Transport()
    return _Corked(transport), transport  # type: ignore[arg-type]


def test_an_answer_leaves_in_one_write() -> None:
    corked, transport = _corked()

    async def cycle_send(message: dict[str, Any]) -> None:  # what uvicorn's cycle does with each message
        corked.write(b"HEAD" if message["type"] == "http.response.start" else message["body"])

    send = corked.sender(cycle_send)

    async def answer() -> None:
        await send({"type": "http.response.start"})
        assert transport.writes == []  # the head waits for the body
        await send({"type": "http.response.body", "body": b"BODY"})
        await send({"type": "http.response.start"})  # the next answer on the connection
        await send({"type": "http.response.body", "body": b"MORE"})

    asyncio.run(answer())
    assert transport.writes == [b"HEADBODY", b"HEADMORE"]
    assert not corked.is_closing()  # everything else is the transport's


def test_a_head_without_a_body_write_still_leaves() -> None:
    corked, transport = _corked()

    async def cycle_send(message: dict[str, Any]) -> None:  # a HEAD request: uvicorn writes no body
        if message["type"] == "http.response.start":
            corked.write(b"HEAD")

    send = corked.sender(cycle_send)

    async def answer() -> None:
        await send({"type": "http.response.start"})
        await send({"type": "http.response.body", "body": b""})

    asyncio.run(answer())
    assert transport.writes == [b"HEAD"]


def test_a_close_sends_a_held_head_first() -> None:
    corked, transport = _corked()

    async def cycle_send(message: dict[str, Any]) -> None:
        corked.write(b"HEAD")
        corked.close()  # keep-alive off, or an error after the head

    async def answer() -> None:
        await corked.sender(cycle_send)({"type": "http.response.start"})

    asyncio.run(answer())
    assert transport.writes == [b"HEAD"] and transport.closed
