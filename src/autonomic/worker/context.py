"""Everything a handler may use while it runs one task."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from autonomic.values import Capability
from autonomic.worker.browser_pool import BrowserPool
from autonomic.worker.files import FileGuard
from autonomic.worker.outcome import TaskFailed
from autonomic.worker.settings import WorkerSettings
from autonomic.workspace import Workspace

T = TypeVar("T")
log = logging.getLogger("autonomic.worker")


@dataclass
class Resources:
    """What tasks share inside one worker: the desktop (one task drives it at a time) and a warm browser."""

    settings: WorkerSettings
    desktop_lock: threading.Lock = field(default_factory=threading.Lock)
    capabilities: list[str] = field(default_factory=list)
    browser: BrowserPool = field(init=False)

    def __post_init__(self) -> None:
        self.browser = BrowserPool(self.settings.browser_executable, self.settings.browser_headless)

    async def close(self) -> None:
        await self.browser.close()


@dataclass
class TaskContext:
    """One task as a handler sees it, plus the worker's settings, file guard and shared resources."""

    task_id: str
    type: str
    data: dict[str, Any]
    attempts: int
    worker: str
    workspace: Workspace
    settings: WorkerSettings
    files: FileGuard
    resources: Resources
    cancelled: threading.Event = field(default_factory=threading.Event)
    log: logging.Logger = log

    def allowed(self, capability: Capability) -> bool:
        return capability in self.settings.allow

    def require(self, capability: Capability, what: str) -> None:
        """Fail the task unless `[worker].allow` lists `capability`."""
        if not self.allowed(capability):
            raise TaskFailed(f"{what} is not allowed on this worker: add '{capability}' to [worker].allow")

    async def in_thread(self, fn: Callable[[], T]) -> T:
        """Run blocking `fn` in a daemon thread; a timeout abandons it (and sets `cancelled`) rather than
        waiting, so a stuck call never blocks the worker's shutdown."""
        return await in_thread(fn, name=f"task-{self.task_id}")


async def in_thread(fn: Callable[[], T], name: str = "autonomic-task") -> T:
    """Await blocking `fn` run in a new daemon thread."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def target() -> None:
        try:
            result = fn()
        except BaseException as exc:  # handed to the awaiting task, which decides what it means
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, None, exc)
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, result, None)

    threading.Thread(target=target, name=name, daemon=True).start()
    return await future
