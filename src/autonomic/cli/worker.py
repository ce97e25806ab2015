"""`autonomic worker`: run the RPA Worker in the foreground (the orchestrator runs it as `worker`).

The composer of the worker: it reads `[worker]` and `[queue]` from autonomic.toml, applies the
command line over them, finds the token, and hands the worker typed settings.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from autonomic.errors import UsageError
from autonomic.workspace import Workspace

if TYPE_CHECKING:
    from autonomic.worker.loop import WorkerOptions
    from autonomic.worker.settings import WorkerSettings


def register(app: typer.Typer) -> None:
    """Add the worker command to the root app."""
    app.command("worker")(worker)


def worker(
    workspace: Path | None = typer.Option(None, "--workspace", "-w", help="The workspace folder."),
    server: str | None = typer.Option(
        None,
        "--server",
        help="Queue server URL, or several of one queue comma-separated (failover) "
        "(default: worker.server in autonomic.toml, else this workspace's queue).",
    ),
    token: str | None = typer.Option(
        None, "--token", help="Queue token (default: $AUTONOMIC_TOKEN, else .autonomic/token)."
    ),
    token_file: Path | None = typer.Option(
        None, "--token-file", help="Read the queue token from this file (a worker on another host)."
    ),
    concurrency: int | None = typer.Option(None, "--concurrency", "-c", help="Tasks run at once."),
    prefetch: int | None = typer.Option(
        None, "--prefetch", help="Tasks held in reserve per slot (0: claim only for free slots)."
    ),
    name: str | None = typer.Option(None, "--name", help="Worker name shown in /api/workers."),
    types: str | None = typer.Option(None, "--types", help="Claim only these task types (comma-separated)."),
) -> None:
    """Claim tasks from the queue and run them until SIGTERM (then finish or hand back what it holds)."""
    from autonomic import api_token
    from autonomic.worker.main import run_worker

    found = Workspace.find(workspace)
    settings, options = compose(found, server, concurrency, prefetch, name)
    wanted = [t.strip() for t in types.split(",") if t.strip()] if types else None
    if token_file is not None:
        token = _token_from(token_file, token)
    run_worker(found, settings, options, api_token.for_client(found, token), wanted)


def _token_from(path: Path, given: str | None) -> str:
    if given is not None:
        raise UsageError("give --token or --token-file, not both")
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise UsageError(f"--token-file {path}: cannot read it ({why})") from None
    if not token or len(token.split()) != 1:
        raise UsageError(f"--token-file {path}: expected the token alone on one line")
    return token


def compose(
    workspace: Workspace,
    server: str | None = None,
    concurrency: int | None = None,
    prefetch: int | None = None,
    name: str | None = None,
) -> tuple[WorkerSettings, WorkerOptions]:
    """The `[worker]` settings and the options this worker runs with (`UsageError` on bad input)."""
    from autonomic import config
    from autonomic.worker.loop import WorkerOptions

    loaded = config.load(workspace)
    settings = loaded.worker
    if concurrency is not None and not 1 <= concurrency <= 256:
        raise UsageError("--concurrency must be between 1 and 256")
    if prefetch is not None and not 0 <= prefetch <= 1000:
        raise UsageError("--prefetch must be between 0 and 1000")
    from autonomic.worker.failover import server_urls

    url = ",".join(server_urls(server or settings.server or loaded.queue.url))
    options = WorkerOptions(
        name=name or settings.name or f"{socket.gethostname()}-{os.getpid()}",
        url=url,
        concurrency=settings.concurrency if concurrency is None else concurrency,
        prefetch=settings.prefetch if prefetch is None else prefetch,
        lease=settings.lease,
        poll_wait=settings.poll_wait,
        task_timeout=settings.task_timeout,
        drain_timeout=settings.drain_timeout,
        heartbeat_file=workspace.heartbeat_file("worker"),
    )
    return settings, options
