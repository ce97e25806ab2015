"""Running one task: the handler under a timeout, timed, its outcome in the original's result shape."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from autonomic.worker.context import TaskContext
from autonomic.worker.handler import Data, Registered, TaskFailed


@dataclass(frozen=True)
class Outcome:
    """What is reported for a task: `{success, data, error}`; `data` always carries `execution_time`."""

    success: bool
    data: Data
    error: str | None = None


async def run(registered: Registered, ctx: TaskContext, timeout: float) -> Outcome:
    """Run the handler for `ctx`; never raises except `CancelledError` (lease lost or shutdown)."""
    started = time.monotonic()
    try:
        data = await asyncio.wait_for(_invoke(registered, ctx), timeout)
    except TaskFailed as exc:
        return _failed(str(exc), started, exc.data)
    except TimeoutError:
        ctx.cancelled.set()
        return _failed(f"timed out after {timeout:g}s", started)
    except asyncio.CancelledError:
        ctx.cancelled.set()
        raise
    except Exception as exc:
        ctx.log.warning("task %s (%s) raised %s: %s", ctx.task_id, ctx.type, type(exc).__name__, exc)
        return _failed(f"{type(exc).__name__}: {exc}", started)
    return Outcome(True, {**_json_safe(data), "execution_time": _elapsed(started)})


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
    return Outcome(False, {**_json_safe(extra or {}), "execution_time": _elapsed(started)}, error)


def _elapsed(started: float) -> float:
    return round(time.monotonic() - started, 4)


def _json_safe(data: Data) -> Data:
    """Handlers may return dates, paths or tuples: turn them into what JSON can carry."""
    safe: Data = json.loads(json.dumps(data, default=str))
    return safe
