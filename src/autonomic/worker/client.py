"""The part of the queue client the worker uses, as a protocol (so any compatible client fits)."""

from __future__ import annotations

from typing import Any, Protocol


class ClaimClient(Protocol):
    """`autonomic.queue.client.AsyncQueueClient` satisfies this."""

    async def claim(
        self,
        types: list[str] | None = None,
        max_tasks: int = 1,
        wait: float = 0.0,
        lease: float | None = None,
    ) -> list[Any]: ...

    async def submit(
        self, task_id: str, success: bool, data: dict[str, Any] | None = None, error: str | None = None
    ) -> None: ...

    async def submit_many(self, results: list[Any]) -> Any: ...

    async def extend(self, task_id: str, lease: float) -> bool: ...

    async def release(self, task_id: str, delay: float = 0.0, error: str | None = None) -> None: ...

    async def heartbeat(self, info: Any) -> None: ...

    async def close(self) -> None: ...
