"""Running one task: the handler under a timeout, timed, its outcome in the original's result shape.

An async handler is awaited on the worker's loop (a no-op costs a few microseconds: no thread, no
task of its own); a sync one runs in a thread of its own. `Scope` lets the worker abandon a running
task (its lease was lost, or the worker stops): the handler is interrupted as by its timeout, and
the scope says the outcome is not to be reported.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from autonomic.worker.context import TaskContext
from autonomic.worker.outcome import Data, Outcome, TaskFailed
from autonomic.worker.protocol import Registered

_PLAIN = (str, int, float, bool, type(None))


class Scope:
    """The running task's cancel scope: `abandon()` interrupts it; its outcome is then not reported."""

    __slots__ = ("_timeout", "abandoned")

    def __init__(self) -> None:
        self._timeout: asyncio.Timeout | None = None
        self.abandoned = False

    def abandon(self) -> None:
        self.abandoned = True
        if self._timeout is not None and not self._timeout.expired():
            self._timeout.reschedule(asyncio.get_running_loop().time())


async def run(
    registered: Registered, ctx: TaskContext, timeout: float, scope: Scope | None = None
) -> Outcome:
    """Run the handler for `ctx`; never raises except `CancelledError` (the worker itself is cancelled)."""
    started = time.monotonic()
    scope = scope or Scope()
    try:
        async with asyncio.timeout(timeout) as limit:
            scope._timeout = limit
            if scope.abandoned:
                raise TimeoutError
            data = await _invoke(registered, ctx)
    except TaskFailed as exc:
        return _failed(str(exc), started, exc.data)
    except TimeoutError:
        ctx.cancelled.set()
        if scope.abandoned:
            return _failed("abandoned by the worker", started)
        return _failed(f"timed out after {timeout:g}s", started)
    except asyncio.CancelledError:
        ctx.cancelled.set()
        raise
    except Exception as exc:
        ctx.log.warning("task %s (%s) raised %s: %s", ctx.task_id, ctx.type, type(exc).__name__, exc)
        return _failed(f"{type(exc).__name__}: {exc}", started)
    finally:
        scope._timeout = None
    data = _json_safe(data)
    data["execution_time"] = _elapsed(started)
    return Outcome(True, data)


def task_timeout(ctx_data: dict[str, Any], ceiling: float) -> float:
    """The task's own `timeout` (the original's rpa field) when it is shorter than the configured one."""
    asked = ctx_data.get("timeout")
    if isinstance(asked, int | float) and not isinstance(asked, bool) and asked > 0:
        return min(float(asked), ceiling)
    return ceiling


async def _invoke(registered: Registered, ctx: TaskContext) -> Data:
    if registered.is_async:
        result = await registered.handler(ctx)
    else:
        result = await ctx.in_thread(lambda: registered.handler(ctx))
        if asyncio.iscoroutine(result):
            result = await result
    if result is None:
        return {}
    return result if isinstance(result, dict) else {"result": result}


def _failed(error: str, started: float, extra: Data | None = None) -> Outcome:
    data = _json_safe(extra) if extra else {}
    data["execution_time"] = _elapsed(started)
    return Outcome(False, data, error)


def _elapsed(started: float) -> float:
    return round(time.monotonic() - started, 4)


def _json_safe(data: Data) -> Data:
    """Handlers may return dates, paths or tuples: turn them into what JSON can carry (a new dict)."""
    if all(type(key) is str and type(value) in _PLAIN for key, value in data.items()):
        return dict(data)  # the common flat case, already JSON
    safe: Data = json.loads(json.dumps(data, default=str))
    return safe
