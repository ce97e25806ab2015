"""In-process wake-ups for long polls: a waiting claim or result read sleeps until told, not in a loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from autonomic.queue.store.records import Claim, ResultRecord, TaskRecord

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


async def _sleep_on(future: asyncio.Future[Any], timeout: float, hangup: Hangup | None) -> None:
    """Wait for `future`, `timeout` seconds or the caller hanging up, whichever comes first (no task)."""
    timer = asyncio.get_running_loop().call_later(timeout, _settle, future)
    gone = hangup.watch() if hangup is not None else None
    wake = lambda _: _settle(future)  # noqa: E731 - removed again below, so it needs a name
    if gone is not None:
        gone.add_done_callback(wake)
    try:
        await future
    finally:
        timer.cancel()
        if gone is not None:
            gone.remove_done_callback(wake)


def _settle(future: asyncio.Future[Any], value: Any = None) -> None:
    if not future.done():
        future.set_result(value)


class Signal:
    """A broadcast "something changed": every waiter wakes, re-checks the store, and waits again if unlucky.

    The generation counter closes the race between a waiter's empty check and its wait: a notify in
    between bumps the generation, and `wait` returns at once instead of sleeping through it.
    """

    def __init__(self) -> None:
        self.generation = 0
        # each waiting future, with what its waiter waits for (None: anything), in the order they began
        self._waiting: dict[asyncio.Future[Any], Any] = {}

    def notify(self) -> None:
        self.generation += 1
        waiting, self._waiting = self._waiting, {}
        for future in waiting:
            _settle(future)

    async def wait(self, seen: int, timeout: float, hangup: Hangup | None = None, what: Any = None) -> Any:
        """Sleep until a notify after generation `seen`, `timeout` seconds, or the caller hanging up.

        Returns what a waker handed over to this waiter alone (see `Ready.hand`); None otherwise."""
        if self.generation != seen or timeout <= 0 or (hangup is not None and hangup.gone):
            return None
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[future] = what
        try:
            await _sleep_on(future, timeout, hangup)
        finally:
            self._waiting.pop(future, None)
        return future.result() if future.done() else None


class Ready(Signal):
    """The signal for "tasks became claimable"; each waiter is a claim that says what it takes.

    A create can then serve the claims waiting for its tasks' types in its own transaction
    (`Store.create_and_claim`) and hand each its tasks with the wake-up (`hand`): the worker's long
    poll answers without a claim transaction, and without first waking only to ask the store.
    """

    def waiting(self, types: set[str]) -> list[tuple[asyncio.Future[Any], Claim]]:
        """The claims waiting now that take any of `types`, longest waiting first."""
        return [
            (future, claim)
            for future, claim in self._waiting.items()
            if isinstance(claim, Claim)
            and not future.done()
            and (not claim.types or not types.isdisjoint(claim.types))
        ]

    def hand(self, future: asyncio.Future[Any], tasks: list[TaskRecord]) -> bool:
        """Wake one waiting claim with the tasks leased for it; False if it stopped waiting meanwhile
        (timed out, hung up, woken by a notify): then nobody takes them, and the caller hands them back."""
        if future.done():
            return False
        self._waiting.pop(future, None)
        future.set_result(tasks)
        return True


class ResultWaiters:
    """Readers long-polling for the result of one task, woken when that result is stored.

    Whoever stores the result may hand it over with the wake-up; a reader woken without it (a timeout,
    a hang-up, shutdown, another server's notice) reads the store.
    """

    def __init__(self) -> None:
        self._waiting: defaultdict[str, set[asyncio.Future[ResultRecord | None]]] = defaultdict(set)

    def expect(self, task_id: str) -> asyncio.Future[ResultRecord | None]:
        """Register a reader of `task_id` now (no result stored from here on is missed); pass the future to
        `wait`, or to `forget` if it will not be waited on."""
        future: asyncio.Future[ResultRecord | None] = asyncio.get_running_loop().create_future()
        self._waiting[task_id].add(future)
        return future

    def forget(self, task_id: str, future: asyncio.Future[ResultRecord | None]) -> None:
        waiting = self._waiting.get(task_id)
        if waiting is not None:
            waiting.discard(future)
            if not waiting:
                del self._waiting[task_id]

    async def wait(
        self,
        task_id: str,
        timeout: float,
        hangup: Hangup | None = None,
        future: asyncio.Future[ResultRecord | None] | None = None,
    ) -> ResultRecord | None:
        """Sleep until the result is stored (returned when it was handed over), `timeout`, or a hang-up.

        `future`: from `expect`, when the reader registered before it could wait."""
        future = self.expect(task_id) if future is None else future
        try:
            await _sleep_on(future, timeout, hangup)
        finally:
            self.forget(task_id, future)
        return future.result() if future.done() else None

    def resolve(self, task_id: str, result: ResultRecord | None = None) -> int:
        """Wake the readers of `task_id` (handing them `result`, if given); returns how many there were."""
        waiting = self._waiting.pop(task_id, ())
        for future in waiting:
            _settle(future, result)
        return len(waiting)

    def resolve_all(self) -> None:
        for task_id in list(self._waiting):
            self.resolve(task_id)


class Hangup:
    """Notices when the client of one long poll goes away (its ASGI `http.disconnect`).

    A poll whose client is gone must stop waiting and take no task: a task leased to a dead request
    would sit out a whole lease before anyone else could run it. The request's body must have been read
    already: from then on, the only message `receive` can bring is the disconnect. The watch starts on
    the first wait, so a request answered at once costs nothing.
    """

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._gone: asyncio.Future[None] | None = None
        self._watcher: asyncio.Task[None] | None = None

    @property
    def gone(self) -> bool:
        return self._gone is not None and self._gone.done()

    def watch(self) -> asyncio.Future[None]:
        """A future that completes when the client disconnects (the watch starts on the first call)."""
        if self._gone is None:
            self._gone = asyncio.get_running_loop().create_future()
            self._watcher = asyncio.create_task(self._listen(self._gone))
        return self._gone

    def close(self) -> None:
        """Stop watching (the request is being answered)."""
        if self._watcher is not None:
            self._watcher.cancel()

    async def _listen(self, gone: asyncio.Future[None]) -> None:
        with contextlib.suppress(Exception):  # a receive channel that fails is as good as gone
            while (await self._receive())["type"] != "http.disconnect":
                pass
        _settle(gone)
