"""Issue 9: after a hot answer the server stays awake for `[queue] busy_poll`, then sleeps again.

"Awake" is observed where it happens: the event loop's selector. While the window lasts, every poll
of the sockets has a zero timeout (the loop never blocks); once it is over, the loop blocks again.
This does not depend on how loaded the machine is, unlike CPU time.
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from autonomic.queue.server.app import create_app
from autonomic.queue.server.fast_lane import FastLane
from autonomic.queue.server.service import QueueService
from autonomic.queue.server.spin import Spinner
from autonomic.queue.settings import QueueSettings
from autonomic.queue.store.sqlite import SqliteStore


class _Recording(selectors.DefaultSelector):
    """A selector that notes when the loop polled, and whether it was willing to block."""

    def __init__(self) -> None:
        super().__init__()
        self.polls: list[tuple[float, float | None]] = []

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        self.polls.append((time.monotonic(), timeout))
        return super().select(timeout)


def _run(coroutine: Any) -> tuple[Any, list[tuple[float, float | None]]]:
    selector = _Recording()
    loop = asyncio.SelectorEventLoop(selector)
    try:
        return loop.run_until_complete(coroutine), selector.polls
    finally:
        loop.close()


def _blocking(polls: list[tuple[float, float | None]], start: float, end: float) -> list[float | None]:
    """The timeouts of the polls between `start` and `end` that could block (None or > 0)."""
    return [t for at, t in polls if start <= at < end and (t is None or t > 0)]


def test_the_loop_never_blocks_during_the_window_and_blocks_after_it() -> None:
    async def scenario() -> tuple[float, float]:
        spinner = Spinner(0.1)
        kicked = time.monotonic()
        spinner.kick()
        await asyncio.sleep(0.25)
        return kicked, time.monotonic()

    (kicked, ended), polls = _run(scenario())
    during = [at for at, _ in polls if kicked <= at < kicked + 0.09]
    assert len(during) > 10  # it kept turning (thousands of times on an idle machine)
    assert _blocking(polls, kicked, kicked + 0.09) == []
    assert _blocking(polls, kicked + 0.1, ended)  # the window is over: it sleeps again


def test_no_window_means_the_loop_sleeps_at_once() -> None:
    async def scenario() -> float:
        kicked = time.monotonic()
        Spinner(0.0).kick()
        await asyncio.sleep(0.1)
        return kicked

    kicked, polls = _run(scenario())
    assert _blocking(polls, kicked, kicked + 0.05)


def test_a_kick_while_spinning_extends_the_window_without_a_second_spinner() -> None:
    async def scenario() -> float:
        spinner = Spinner(0.5)
        spinner.kick()
        first = spinner._task
        await asyncio.sleep(0.05)
        spinner.kick()  # 0.5 s from now, on the same spinner
        assert spinner._task is first and first is not None
        started = time.monotonic()
        await first
        return time.monotonic() - started

    assert _run(scenario())[0] >= 0.4


def test_busy_poll_is_bounded_by_the_config() -> None:
    assert QueueSettings().busy_poll == pytest.approx(0.0002)
    assert QueueSettings(busy_poll="0.5ms").busy_poll == pytest.approx(0.0005)
    assert QueueSettings(busy_poll=0).busy_poll == 0
    for bad in ("1s", -1, "soon"):
        with pytest.raises(ValidationError):
            QueueSettings(busy_poll=bad)


@pytest.mark.parametrize(("path", "hot"), [("/api/tasks/create", True), ("/api/health", False)])
def test_hot_answers_open_the_window_other_requests_do_not(tmp_path: Path, path: str, hot: bool) -> None:
    settings = QueueSettings(busy_poll="10ms")
    store = SqliteStore(tmp_path / "queue.db")
    app = create_app(QueueService(store, settings), settings, "tok")
    lane = app.app  # type: ignore[attr-defined]  # the Guard's inner app
    assert isinstance(lane, FastLane)

    async def call() -> bool:
        body = b'{"type":"job","data":{}}'
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> MutableMapping[str, Any]:
            if messages:
                return messages.pop()
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                assert message["status"] == 200

        headers = [(b"host", b"127.0.0.1"), (b"authorization", b"Bearer tok")]
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        method = "POST" if hot else "GET"
        scope = {"type": "http", "method": method, "path": path, "query_string": b"", "headers": headers}
        await app(scope, receive, send)
        spinning = lane.spinner._task is not None and not lane.spinner._task.done()
        await asyncio.sleep(0.05)  # the window (10 ms) is over
        assert lane.spinner._task is None or lane.spinner._task.done()
        return spinning

    try:
        assert _run(call())[0] is hot
    finally:
        store.close()
