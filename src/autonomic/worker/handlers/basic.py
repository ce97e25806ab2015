"""`ping` and `health_check`: the original's liveness tasks."""

from __future__ import annotations

import os
import sys

from autonomic.clock import iso_now
from autonomic.worker.context import TaskContext
from autonomic.worker.outcome import Data


async def ping(ctx: TaskContext) -> Data:
    """Answer at once."""
    return {"message": "pong", "worker": ctx.worker, "timestamp": iso_now()}


async def health_check(ctx: TaskContext) -> Data:
    """What this worker can do: its task types and allowed capabilities, and whether it sees a display."""
    return {
        "status": "healthy",
        "worker": ctx.worker,
        "timestamp": iso_now(),
        "capabilities": list(ctx.resources.capabilities),
        "allow": list(ctx.settings.allow),
        "display": bool(os.environ.get("DISPLAY")) or not sys.platform.startswith("linux"),
        "pid": os.getpid(),
    }
