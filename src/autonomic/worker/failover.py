"""A worker that knows several queue servers of one queue (`--server URL1,URL2`) and moves on when one
goes away.

Servers that share one database (PostgreSQL) are one queue: any of them can take any call. Calls go
to the current server; when it is unreachable or failing (a 5xx), the error goes up as usual (the
loop backs off and tries again, and `Link` logs the change once) and the next call goes to the next
server in the list. A refusal (bad token, bad request) is not a reason to move.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from autonomic.errors import UsageError
from autonomic.queue.client import AsyncQueueClient
from autonomic.worker.client import ClaimClient
from autonomic.worker.link import unreachable

log = logging.getLogger("autonomic.worker")
T = TypeVar("T")


def server_urls(given: str) -> list[str]:
    """The comma-separated `--server` value as URLs; `UsageError` for a bad one."""
    urls = [part.strip().rstrip("/") for part in given.split(",") if part.strip()]
    if not urls:
        raise UsageError("--server names no URL")
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"--server must be an http:// or https:// URL, got {url!r}")
    return urls


def connect(url: str, token: str | None, name: str) -> ClaimClient:
    """One client for one URL; a `FailoverClient` over the list for a comma-separated one."""
    urls = server_urls(url)
    clients = [AsyncQueueClient(u, token=token, worker_name=name) for u in urls]
    return clients[0] if len(clients) == 1 else FailoverClient(clients)


class FailoverClient:
    """`ClaimClient` over several servers: one at a time, the next when it fails to answer."""

    def __init__(self, clients: list[AsyncQueueClient]) -> None:
        self._clients = clients
        self._current = 0

    @property
    def url(self) -> str:
        return self._clients[self._current].base_url

    async def _call(self, send: Callable[[AsyncQueueClient], Awaitable[T]]) -> T:
        index = self._current
        try:
            return await send(self._clients[index])
        except Exception as exc:
            if unreachable(exc) and index == self._current:
                self._current = (index + 1) % len(self._clients)
                log.warning(
                    "queue server %s did not answer; using %s from now on",
                    self._clients[index].base_url,
                    self.url,
                )
            raise

    async def claim(
        self,
        types: list[str] | None = None,
        max_tasks: int = 1,
        wait: float = 0.0,
        lease: float | None = None,
    ) -> list[Any]:
        return await self._call(lambda c: c.claim(types, max_tasks, wait, lease))

    async def submit(
        self, task_id: str, success: bool, data: dict[str, Any] | None = None, error: str | None = None
    ) -> None:
        await self._call(lambda c: c.submit(task_id, success, data, error))

    async def submit_many(self, results: list[Any]) -> Any:
        return await self._call(lambda c: c.submit_many(results))

    async def extend(self, task_id: str, lease: float) -> bool:
        return await self._call(lambda c: c.extend(task_id, lease))

    async def release(self, task_id: str, delay: float = 0.0, error: str | None = None) -> None:
        await self._call(lambda c: c.release(task_id, delay, error))

    async def heartbeat(self, info: Any) -> None:
        await self._call(lambda c: c.heartbeat(info))

    async def close(self) -> None:
        for client in self._clients:
            await client.close()
