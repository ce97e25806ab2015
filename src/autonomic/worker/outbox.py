"""Results on their way to the server: batched when several are ready, retried while it is away.

While the server is unreachable, failing (5xx) or refusing the token, a result is kept and sent again,
and its task's lease keeps being extended until it is through, so a slow network or a server in
trouble never makes a finished task run twice or turns its result into a failure. A result the server
says it no longer wants (task cancelled, or already answered) is dropped. One it keeps refusing for
another reason (a 4xx, say data too large) is replaced by a failure result naming why.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from autonomic.errors import TaskConflict, TaskNotFound
from autonomic.worker.client import ClaimClient
from autonomic.worker.link import Link, refused, unreachable
from autonomic.worker.outcome import Outcome

log = logging.getLogger("autonomic.worker")
MAX_BATCH = 500
TRIES = 3
Item = tuple[str, Outcome]


class Outbox:
    """Queue results with `put`; `run` sends them; `flush` waits until all are through."""

    def __init__(self, client: ClaimClient, link: Link, on_sent: Callable[[str], None]) -> None:
        self._client = client
        self._link = link
        self._on_sent = on_sent
        self._queue: asyncio.Queue[Item] = asyncio.Queue()
        self._pending = 0
        self._empty = asyncio.Event()
        self._empty.set()
        self.sent = 0

    def put(self, task_id: str, outcome: Outcome) -> None:
        self._pending += 1
        self._empty.clear()
        self._queue.put_nowait((task_id, outcome))

    async def flush(self, timeout: float) -> bool:
        """Wait (at most `timeout` s) until every queued result has been sent or dropped."""
        try:
            await asyncio.wait_for(self._empty.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def run(self) -> None:
        """Forever: take what is ready (up to MAX_BATCH) and deliver it."""
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._deliver(batch)
            for task_id, _ in batch:
                self._on_sent(task_id)
            self._pending -= len(batch)
            self.sent += len(batch)
            if self._pending == 0:
                self._empty.set()

    async def _deliver(self, batch: list[Item]) -> None:
        if len(batch) > 1:
            try:
                await self._patiently(lambda: self._client.submit_many(_items(batch)))
                return
            except Exception as exc:  # some were refused: settle each on its own
                log.debug("batch of %d results partly refused (%s); sending one by one", len(batch), exc)
        for task_id, outcome in batch:
            await self._deliver_one(task_id, outcome)

    async def _deliver_one(self, task_id: str, outcome: Outcome) -> None:
        for attempt in range(TRIES + 1):
            try:
                send = functools.partial(
                    self._client.submit, task_id, outcome.success, outcome.data, outcome.error
                )
                await self._patiently(send)
                return
            except (TaskNotFound, TaskConflict) as exc:
                log.info("result for task %s not taken: %s", task_id, exc)
                return
            except Exception as exc:
                log.warning("result for task %s refused: %s", task_id, exc)
                if attempt == TRIES - 1:
                    outcome = Outcome(
                        False,
                        {"execution_time": outcome.data.get("execution_time")},
                        f"the queue server refused this task's result: {exc}",
                    )
                else:
                    await asyncio.sleep(self._link.down(exc))

    async def _patiently(self, send: Callable[[], Awaitable[Any]]) -> None:
        """Call `send` until it gets through, waiting out an unreachable, failing or token-refusing server."""
        while True:
            try:
                await send()
            except Exception as exc:
                if not (unreachable(exc) or refused(exc)):
                    raise
                await asyncio.sleep(self._link.down(exc))
                continue
            self._link.up()
            return


def _items(batch: list[Item]) -> list[Any]:
    from autonomic.queue.schemas import ResultIn

    return [ResultIn(task_id=task_id, success=o.success, data=o.data, error=o.error) for task_id, o in batch]
