"""`autonomic worker`: run the RPA Worker in the foreground (the orchestrator runs it as `worker`)."""

from __future__ import annotations

from pathlib import Path

import typer

from autonomic.workspace import Workspace


def register(app: typer.Typer) -> None:
    """Add the worker command to the root app."""
    app.command("worker")(worker)


def worker(
    workspace: Path | None = typer.Option(None, "--workspace", "-w", help="The workspace folder."),
    server: str | None = typer.Option(
        None,
        "--server",
        help="Queue server URL (default: worker.server in autonomic.toml, else this workspace's queue).",
    ),
    token: str | None = typer.Option(
        None, "--token", help="Queue token (default: $AUTONOMIC_TOKEN, else .autonomic/token)."
    ),
    concurrency: int | None = typer.Option(None, "--concurrency", "-c", help="Tasks run at once."),
    name: str | None = typer.Option(None, "--name", help="Worker name shown in /api/workers."),
    types: str | None = typer.Option(None, "--types", help="Claim only these task types (comma-separated)."),
) -> None:
    """Claim tasks from the queue and run them until SIGTERM (then finish or hand back what it holds)."""
    from autonomic.worker.run import Overrides, run_worker

    wanted = [t.strip() for t in types.split(",") if t.strip()] if types else None
    run_worker(Workspace.find(workspace), Overrides(server, token, concurrency, name, wanted))
