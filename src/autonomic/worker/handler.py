"""What a handler is: a callable from a task's context to its result data, sync or async.

Built-in and third-party handlers (entry-point group `autonomic.handlers`, name = task type) follow the
same protocol. A handler returns a JSON-able dict (the result's `data`) or raises `TaskFailed` with a
message; any other exception also fails the task, with the exception's type and message as the error.
Async handlers run on the worker's event loop; sync ones run in a thread of their own.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from autonomic.worker.context import TaskContext

Data = dict[str, Any]


class TaskFailed(Exception):
    """Fail the task with this message. `data` is merged into the failure result's data."""

    def __init__(self, message: str, data: Data | None = None) -> None:
        super().__init__(message)
        self.data = dict(data or {})


@runtime_checkable
class Handler(Protocol):
    """Runs one task. May define `capability` (a `[worker].allow` word) it needs to be registered."""

    def __call__(self, ctx: TaskContext) -> Data | Awaitable[Data]: ...


@dataclass(frozen=True)
class Registered:
    """A handler as the worker keeps it: its task type, the capability it needs, how to call it."""

    type: str
    handler: Callable[[TaskContext], Any]
    capability: str | None
    is_async: bool
    origin: str = "built-in"


def register(type_: str, handler: object, origin: str = "built-in") -> Registered:
    """Wrap `handler` (a function, a callable object, or a class to instantiate) for the task `type_`."""
    if inspect.isclass(handler):
        handler = handler()
    if not callable(handler):
        raise TypeError(f"handler for {type_!r} from {origin} is not callable: {handler!r}")
    capability = getattr(handler, "capability", None)
    call = getattr(handler, "__call__", None)  # noqa: B004 - a callable object's method tells async-ness
    is_async = inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(call)
    return Registered(type_, handler, capability if isinstance(capability, str) else None, is_async, origin)
