"""The worker process: handed its typed settings, URL and token, it builds the loop and runs it.

Reading `autonomic.toml` and the command line is the composer's job (`autonomic.cli.worker`); this
module only puts the parts together: the handler registry, logging, the queue client, the loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable

from autonomic.errors import WorkerError
from autonomic.worker.loop import Worker, WorkerOptions
from autonomic.worker.registry import Registry
from autonomic.worker.settings import WorkerSettings
from autonomic.workspace import Workspace

log = logging.getLogger("autonomic.worker")
LOG_LEVEL_ENV = "AUTONOMIC_LOG_LEVEL"


def run_worker(
    workspace: Workspace,
    settings: WorkerSettings,
    options: WorkerOptions,
    token: str | None,
    only: list[str] | None = None,
) -> None:
    """Run the worker in the foreground until SIGTERM/SIGINT; returns once it has drained."""
    registry = Registry.build(settings, only=only)
    if not registry.types:
        raise WorkerError("this worker has no task type to claim (check [worker].types and allow)")
    _configure_logging()
    workspace.outputs.mkdir(parents=True, exist_ok=True)
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(_main(workspace, settings, options, registry, token))


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed (it comes with uvicorn[standard]; not on Windows): a task's
    round trip crosses the loop a dozen times, and uvloop's crossings cost a fraction."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def _main(
    workspace: Workspace,
    settings: WorkerSettings,
    options: WorkerOptions,
    registry: Registry,
    token: str | None,
) -> None:
    from autonomic.worker.failover import connect

    client = connect(options.url, token, options.name)  # several comma-separated URLs: failover
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
