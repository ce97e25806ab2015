"""The handler protocol: a callable from a task's context to its result data, sync or async.

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

from autonomic.values import Capability
from autonomic.worker.outcome import Data

if TYPE_CHECKING:
    from autonomic.worker.context import TaskContext


@runtime_checkable
class Handler(Protocol):
    """Runs one task. May define `capability` (a `[worker].allow` word) it needs to be registered."""

    def __call__(self, ctx: TaskContext) -> Data | Awaitable[Data]: ...


@dataclass(frozen=True)
class Registered:
    """A handler as the worker keeps it: its task type, the capability it needs, how to call it."""

    type: str
    handler: Callable[[TaskContext], Any]
    capability: Capability | None
    is_async: bool
    origin: str = "built-in"


def register(type_: str, handler: object, origin: str = "built-in") -> Registered:
    """Wrap `handler` (a function, a callable object, or a class to instantiate) for the task `type_`."""
    if inspect.isclass(handler):
        handler = handler()
    if not callable(handler):
        raise TypeError(f"handler for {type_!r} from {origin} is not callable: {handler!r}")
    call = getattr(handler, "__call__", None)  # noqa: B004 - a callable object's method tells async-ness
    is_async = inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(call)
    return Registered(type_, handler, _capability(type_, handler, origin), is_async, origin)


def _capability(type_: str, handler: object, origin: str) -> Capability | None:
    """The `capability` a handler declares, checked against the one vocabulary."""
    declared = getattr(handler, "capability", None)
    if declared is None:
        return None
    try:
        return Capability(declared)
    except ValueError:
        raise TypeError(
            f"handler for {type_!r} from {origin} needs capability {declared!r}, "
            f"which is not one of {Capability.words()}"
        ) from None
