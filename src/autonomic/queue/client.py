"""Python clients of the queue server: `QueueClient` (sync) and `AsyncQueueClient`, one surface.

Both send the `Call`s built in `autonomic.queue.calls`; failures raise `autonomic.errors.QueueError`
subclasses (`QueueUnavailable` when the server cannot be reached, `TaskNotFound`, `TaskConflict`,
`QueueAuthError`, `InvalidRequest` for a value the server would refuse). A worker name, if given,
travels as `X-Worker-Name` on every request. A client is handed its URL and token; finding them in a
workspace is the composer's job (the CLI reads `[queue]` and `autonomic.api_token`).
"""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

from autonomic.queue.calls import Call, Calls, headers
from autonomic.queue.schemas import Result, ResultIn, Task, TaskCreate, TaskCreated, WorkerInfo
from autonomic.queue.task import TaskStatus
from autonomic.queue.transport import AsyncWire, SyncWire, encode, target

T = TypeVar("T")


class _Base:
    def __init__(
        self, base_url: str, token: str | None = None, worker_name: str | None = None, timeout: float = 30.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.worker_name = worker_name
        self.timeout = timeout
        self._calls = Calls()
        self._headers = headers(token, worker_name)


class QueueClient(_Base):
    """Synchronous client (a urllib3 keep-alive pool, thread-safe). Use as a context manager."""

    def __init__(
        self, base_url: str, token: str | None = None, worker_name: str | None = None, timeout: float = 30.0
    ) -> None:
        super().__init__(base_url, token, worker_name, timeout)
        self._wire = SyncWire(self.base_url, self._headers, timeout)

    def _send(self, call: Call[T]) -> T:
        reply = self._wire.send(call.method, target(call.path, call.params), encode(call.body), call.wait)
        return call.finish(reply)

    def health(self) -> dict[str, Any]:
        """GET /api/health (no token needed)."""
        return self._send(self._calls.health())

    def create(
        self,
        type: str,
        data: dict[str, Any] | None = None,
        priority: str = "normal",
        *,
        idempotency_key: str | None = None,
        delay: float | None = None,
        run_at: datetime | None = None,
        max_attempts: int | None = None,
    ) -> Task:
        """Enqueue a task; with an `idempotency_key` already used, the original task comes back."""
        return self._send(
            self._calls.create(
                type,
                data,
                priority,
                idempotency_key=idempotency_key,
                delay=delay,
                run_at=run_at,
                max_attempts=max_attempts,
            )
        )

    def enqueue(
        self,
        type: str,
        data: dict[str, Any] | None = None,
        priority: str = "normal",
        *,
        idempotency_key: str | None = None,
        delay: float | None = None,
        run_at: datetime | None = None,
        max_attempts: int | None = None,
    ) -> TaskCreated:
        """`create`, answered in full: `created` is False when the idempotency key was used before."""
        return self._send(
            self._calls.enqueue(
                type,
                data,
                priority,
                idempotency_key=idempotency_key,
                delay=delay,
                run_at=run_at,
                max_attempts=max_attempts,
            )
        )

    def run(
        self,
        type: str,
        data: dict[str, Any] | None = None,
        priority: str = "normal",
        *,
        timeout: float = 30.0,
        idempotency_key: str | None = None,
        max_attempts: int | None = None,
    ) -> Result:
        """Enqueue a task and wait for its result in one round trip; `ResultTimeout` after `timeout` s."""
        return self._send(
            self._calls.run(
                type,
                data,
                priority,
                timeout=timeout,
                idempotency_key=idempotency_key,
                max_attempts=max_attempts,
            )
        )

    def create_many(self, tasks: list[TaskCreate]) -> list[Task]:
        """Enqueue many tasks in one request and one transaction."""
        return self._send(self._calls.create_many(tasks))

    def claim(
        self,
        types: list[str] | None = None,
        max_tasks: int = 1,
        wait: float = 0.0,
        lease: float | None = None,
    ) -> list[Task]:
        """Lease up to `max_tasks` tasks of `types` (all if None), long-polling up to `wait` s for one."""
        return self._send(self._calls.claim(types, max_tasks, wait, lease))

    def submit(
        self, task_id: str, success: bool, data: dict[str, Any] | None = None, error: str | None = None
    ) -> None:
        """Post a result. `TaskConflict` if the task already has one (the first result stands)."""
        self._send(self._calls.submit(task_id, success, data, error))

    def submit_many(self, results: list[ResultIn]) -> None:
        """Post many results; the accepted are stored, and refused ones raise naming them."""
        self._send(self._calls.submit_many(results))

    def extend(self, task_id: str, lease: float) -> bool:
        """Hold the task `lease` more seconds; False if its lease is no longer ours (stop working on it)."""
        return self._send(self._calls.extend(task_id, lease))

    def release(self, task_id: str, delay: float = 0.0, error: str | None = None) -> None:
        """Give a held task back (nack): it is retried after `delay`, or dead-lettered if out of attempts."""
        self._send(self._calls.release(task_id, delay, error))

    def heartbeat(self, info: WorkerInfo) -> None:
        """Tell the server this worker is alive (shown in /api/workers; counted in /api/stats)."""
        self._send(self._calls.heartbeat(info))

    def workers(self) -> list[dict[str, Any]]:
        return self._send(self._calls.workers())

    def result(self, task_id: str, wait: float = 0.0) -> Result | None:
        """The task's result, or None if there is none (yet); `wait` long-polls for it."""
        return self._send(self._calls.result(task_id, wait))

    def get(self, task_id: str) -> Task:
        return self._send(self._calls.get(task_id))

    def cancel(self, task_id: str) -> None:
        self._send(self._calls.cancel(task_id))

    def stats(self) -> dict[str, Any]:
        return self._send(self._calls.stats())

    def tasks(
        self, status: TaskStatus | str = TaskStatus.PENDING, limit: int = 1000, types: list[str] | None = None
    ) -> list[Task]:
        return self._send(self._calls.tasks(status, limit, types))

    def dead_letters(self, limit: int = 1000) -> list[Task]:
        return self._send(self._calls.dead_letters(limit))

    def requeue(self, task_id: str) -> Task:
        return self._send(self._calls.requeue(task_id))

    def results(self, limit: int = 100) -> list[Result]:
        return self._send(self._calls.results(limit))

    def close(self) -> None:
        self._wire.close()

    def __enter__(self) -> QueueClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncQueueClient(_Base):
    """The same surface as `QueueClient`, every method a coroutine (an aiohttp keep-alive session)."""

    def __init__(
        self, base_url: str, token: str | None = None, worker_name: str | None = None, timeout: float = 30.0
    ) -> None:
        super().__init__(base_url, token, worker_name, timeout)
        self._wire = AsyncWire(self.base_url, self._headers, timeout)

    async def _send(self, call: Call[T]) -> T:
        path = target(call.path, call.params)
        reply = await self._wire.send(call.method, path, encode(call.body), call.wait)
        return call.finish(reply)

    async def health(self) -> dict[str, Any]:
        return await self._send(self._calls.health())

    async def create(
        self,
        type: str,
        data: dict[str, Any] | None = None,
        priority: str = "normal",
        *,
        idempotency_key: str | None = None,
        delay: float | None = None,
        run_at: datetime | None = None,
        max_attempts: int | None = None,
    ) -> Task:
        return await self._send(
            self._calls.create(
                type,
                data,
                priority,
                idempotency_key=idempotency_key,
                delay=delay,
                run_at=run_at,
                max_attempts=max_attempts,
            )
        )

    async def run(
        self,
        type: str,
        data: dict[str, Any] | None = None,
        priority: str = "normal",
        *,
        timeout: float = 30.0,
        idempotency_key: str | None = None,
        max_attempts: int | None = None,
    ) -> Result:
        return await self._send(
            self._calls.run(
                type,
                data,
                priority,
                timeout=timeout,
                idempotency_key=idempotency_key,
                max_attempts=max_attempts,
            )
        )

    async def create_many(self, tasks: list[TaskCreate]) -> list[Task]:
        return await self._send(self._calls.create_many(tasks))

    async def claim(
        self,
        types: list[str] | None = None,
        max_tasks: int = 1,
        wait: float = 0.0,
        lease: float | None = None,
    ) -> list[Task]:
        return await self._send(self._calls.claim(types, max_tasks, wait, lease))

    async def submit(
        self, task_id: str, success: bool, data: dict[str, Any] | None = None, error: str | None = None
    ) -> None:
        await self._send(self._calls.submit(task_id, success, data, error))

    async def submit_many(self, results: list[ResultIn]) -> None:
        await self._send(self._calls.submit_many(results))

    async def extend(self, task_id: str, lease: float) -> bool:
        return await self._send(self._calls.extend(task_id, lease))

    async def release(self, task_id: str, delay: float = 0.0, error: str | None = None) -> None:
        await self._send(self._calls.release(task_id, delay, error))

    async def heartbeat(self, info: WorkerInfo) -> None:
        await self._send(self._calls.heartbeat(info))

    async def workers(self) -> list[dict[str, Any]]:
        return await self._send(self._calls.workers())

    async def result(self, task_id: str, wait: float = 0.0) -> Result | None:
        return await self._send(self._calls.result(task_id, wait))

    async def get(self, task_id: str) -> Task:
        return await self._send(self._calls.get(task_id))

    async def cancel(self, task_id: str) -> None:
        await self._send(self._calls.cancel(task_id))

    async def stats(self) -> dict[str, Any]:
        return await self._send(self._calls.stats())

    async def tasks(
        self, status: TaskStatus | str = TaskStatus.PENDING, limit: int = 1000, types: list[str] | None = None
    ) -> list[Task]:
        return await self._send(self._calls.tasks(status, limit, types))

    async def dead_letters(self, limit: int = 1000) -> list[Task]:
        return await self._send(self._calls.dead_letters(limit))

    async def requeue(self, task_id: str) -> Task:
        return await self._send(self._calls.requeue(task_id))

    async def results(self, limit: int = 100) -> list[Result]:
        return await self._send(self._calls.results(limit))

    async def close(self) -> None:
        await self._wire.close()

    async def __aenter__(self) -> AsyncQueueClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
