"""In-process wake-ups for long polls: a waiting claim or result read sleeps until told, not in a loop."""

from __future__ import annotations

import asyncio
from collections import defaultdict


async def _sleep_on(future: asyncio.Future[None], timeout: float) -> None:
    """Wait for `future` or `timeout` seconds, whichever comes first (cheaper than `wait_for`: no task)."""
    timer = asyncio.get_running_loop().call_later(timeout, _settle, future)
    try:
        await future
    finally:
        timer.cancel()


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Signal:
    """A broadcast "something changed": every waiter wakes, re-checks the store, and waits again if unlucky.

    The generation counter closes the race between a waiter's empty check and its wait: a notify in
    between bumps the generation, and `wait` returns at once instead of sleeping through it.
    """

    def __init__(self) -> None:
        self.generation = 0
        self._waiting: set[asyncio.Future[None]] = set()

    def notify(self) -> None:
        self.generation += 1
        waiting, self._waiting = self._waiting, set()
        for future in waiting:
            _settle(future)

    async def wait(self, seen: int, timeout: float) -> None:
        """Sleep until a notify after generation `seen`, or `timeout` seconds."""
        if self.generation != seen or timeout <= 0:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.add(future)
        try:
            await _sleep_on(future, timeout)
        finally:
            self._waiting.discard(future)


class ResultWaiters:
    """Readers long-polling for the result of one task, woken when that result is stored."""

    def __init__(self) -> None:
        self._waiting: defaultdict[str, set[asyncio.Future[None]]] = defaultdict(set)

    async def wait(self, task_id: str, timeout: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[task_id].add(future)
        try:
            await _sleep_on(future, timeout)
        finally:
            waiting = self._waiting.get(task_id)
            if waiting is not None:
                waiting.discard(future)
                if not waiting:
                    del self._waiting[task_id]

    def resolve(self, task_id: str) -> None:
        for future in self._waiting.pop(task_id, ()):
            _settle(future)

    def resolve_all(self) -> None:
        for task_id in list(self._waiting):
            self.resolve(task_id)
