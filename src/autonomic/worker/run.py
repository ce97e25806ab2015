"""`autonomic worker`: resolve the workspace's `[worker]` table and the command line, then run the loop."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from dataclasses import dataclass

from autonomic import config
from autonomic.errors import UsageError, WorkerError
from autonomic.scaffold import read_token
from autonomic.worker.registry import Registry
from autonomic.worker.settings import WorkerSettings
from autonomic.worker.worker import Worker, WorkerOptions
from autonomic.workspace import Workspace

log = logging.getLogger("autonomic.worker")
TOKEN_ENV = "AUTONOMIC_TOKEN"  # noqa: S105 - the name of the variable, not a secret
LOG_LEVEL_ENV = "AUTONOMIC_LOG_LEVEL"


@dataclass(frozen=True)
class Overrides:
    """What the command line may set over `[worker]`."""

    server: str | None = None
    token: str | None = None
    concurrency: int | None = None
    name: str | None = None
    types: list[str] | None = None


def plan(workspace: Workspace, overrides: Overrides) -> tuple[WorkerSettings, WorkerOptions, str | None]:
    """The settings, run options and token this worker will use (raises `UsageError` on bad input)."""
    loaded = config.load(workspace)
    settings = loaded.worker
    if overrides.concurrency is not None and not 1 <= overrides.concurrency <= 256:
        raise UsageError("--concurrency must be between 1 and 256")
    url = (overrides.server or settings.server or loaded.queue.url).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--server must be an http:// or https:// URL, got {url!r}")
    token = overrides.token or os.environ.get(TOKEN_ENV) or read_token(workspace)
    options = WorkerOptions(
        name=overrides.name or settings.name or f"{socket.gethostname()}-{os.getpid()}",
        url=url,
        concurrency=overrides.concurrency or settings.concurrency,
        lease=settings.lease,
        poll_wait=settings.poll_wait,
        task_timeout=settings.task_timeout,
        drain_timeout=settings.drain_timeout,
        heartbeat_file=config.worker_heartbeat(workspace),
    )
    return settings, options, token


def run_worker(workspace: Workspace, overrides: Overrides) -> None:
    """Run the worker in the foreground until SIGTERM/SIGINT; returns once it has drained."""
    settings, options, token = plan(workspace, overrides)
    registry = Registry.build(settings, only=overrides.types)
    if not registry.types:
        raise WorkerError("this worker has no task type to claim (check [worker].types and allow)")
    _configure_logging()
    workspace.outputs.mkdir(parents=True, exist_ok=True)
    asyncio.run(_main(workspace, settings, options, registry, token))


async def _main(
    workspace: Workspace,
    settings: WorkerSettings,
    options: WorkerOptions,
    registry: Registry,
    token: str | None,
) -> None:
    from autonomic.queue.client import AsyncQueueClient

    client = AsyncQueueClient(options.url, token=token, worker_name=options.name)
    try:
        await Worker(client, registry, settings, workspace, options).run()
    finally:
        await client.close()


def _configure_logging() -> None:
    level = os.environ.get(LOG_LEVEL_ENV, "INFO").upper()
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("urllib3", "aiohttp", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
