"""Signs of life: the heartbeat file the orchestrator's probe reads, and the heartbeat to the server.

Both as rare as their purpose allows: the file is touched three times per the probe's `max_age`
(30 s), and the server hears from an idle worker three times per its `worker_ttl` (60 s) (every
claim counts as a sign of life too).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autonomic.worker.client import ClaimClient
from autonomic.worker.link import Link

log = logging.getLogger("autonomic.worker")
INTERVAL = 10.0
SERVER_HEARTBEAT = 20.0


def touch(path: Path) -> None:
    """Bump the file's mtime (creating it the first time)."""
    try:
        os.utime(path)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()


async def touch_forever(path: Path | None) -> None:
    """Touch `path` every `INTERVAL` seconds (nothing when there is no file to keep)."""
    if path is None:
        return
    while True:
        try:
            touch(path)
        except OSError as exc:
            log.warning("cannot touch the heartbeat file %s: %s", path, exc)
        await asyncio.sleep(INTERVAL)


async def heartbeat_forever(client: ClaimClient, link: Link, info: Callable[[], dict[str, Any]]) -> None:
    """Tell the server every `SERVER_HEARTBEAT` seconds that this worker lives, and what it claims."""
    from autonomic.queue.schemas import WorkerInfo

    while True:
        try:
            await client.heartbeat(WorkerInfo(**info()))
            link.up()
        except Exception as exc:
            link.down(exc)
        await asyncio.sleep(SERVER_HEARTBEAT)
