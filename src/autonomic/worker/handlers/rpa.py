"""`rpa` / `rpa_command` (an action with params), the shorthand types, and `benchmark_test`."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from autonomic.clock import iso_now
from autonomic.worker import screen
from autonomic.worker.actions import ACTIONS, INPUT, INPUT_ACTIONS, Params
from autonomic.worker.context import TaskContext
from autonomic.worker.files import stamped
from autonomic.worker.outcome import Data, TaskFailed

SHORTHANDS = ("screenshot", "ocr", "wait", "open_browser")
RETRY_PAUSE = 0.5


async def rpa(ctx: TaskContext) -> Data:
    """`data = {action, params, retry_on_fail, max_retries}`: run one action, retrying if asked."""
    action = ctx.data.get("action")
    if not isinstance(action, str) or action not in ACTIONS:
        raise TaskFailed(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
    params = ctx.data.get("params") or {}
    if not isinstance(params, dict):
        raise TaskFailed("params must be an object")
    if action in INPUT_ACTIONS:
        ctx.require(INPUT, f"desktop input ({action})")
    retries, attempt = _retries(ctx.data), 0
    while True:
        try:
            return await _run(ctx, action, params)
        except TaskFailed:
            if attempt >= retries:
                raise
            attempt += 1
            ctx.log.info("task %s: %s failed, retry %d of %d", ctx.task_id, action, attempt, retries)
            await asyncio.sleep(RETRY_PAUSE)


def shorthand(action: str) -> Any:
    """A handler for the task type `action` that runs that action with `params = data`."""

    async def handle(ctx: TaskContext) -> Data:
        return await _run(ctx, action, ctx.data)

    handle.__name__ = handle.__qualname__ = f"shorthand_{action}"
    return handle


async def benchmark_test(ctx: TaskContext) -> Data:
    """Take a screenshot and time it."""
    path = ctx.files.writable(None, stamped("benchmark"))

    def shoot() -> float:
        started = time.perf_counter()
        screen.save(screen.capture(), path)
        return time.perf_counter() - started

    elapsed = await ctx.in_thread(shoot)
    return {
        "worker": ctx.worker,
        "timestamp": iso_now(),
        "benchmark_time": round(elapsed, 4),
        "screenshot_path": ctx.files.relative(path),
        "status": "completed",
    }


async def _run(ctx: TaskContext, action: str, params: Params) -> Data:
    try:
        return await ACTIONS[action](ctx, params)
    except TaskFailed as failure:
        if ctx.settings.attach_screenshot_on_error and action in (*INPUT_ACTIONS, "find_element"):
            failure.data.setdefault("error_screenshot", await _error_capture(ctx))
        raise


async def _error_capture(ctx: TaskContext) -> str | None:
    """The path of a capture of the screen at the failure, saved under outputs/ (never inlined)."""
    path = ctx.files.writable(None, stamped(f"error_{ctx.task_id}"))
    try:
        await ctx.in_thread(lambda: screen.save(screen.capture(), path))
    except TaskFailed:
        return None
    return ctx.files.relative(path)


def _retries(data: dict[str, Any]) -> int:
    if not data.get("retry_on_fail"):
        return 0
    asked = data.get("max_retries", 3)
    if isinstance(asked, bool) or not isinstance(asked, int) or asked < 0:
        raise TaskFailed("max_retries must be a whole number >= 0")
    return min(asked, 10)
