"""`autonomic serve` and `autonomic queue add|list|get|stats|dlq|cancel`: thin verbs over the queue client."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from autonomic.cli import render
from autonomic.errors import UsageError
from autonomic.units import format_duration, parse_duration
from autonomic.workspace import Workspace

if TYPE_CHECKING:
    from autonomic.queue.client import QueueClient
    from autonomic.queue.schemas import Task
    from autonomic.queue.settings import QueueSettings

queue_app = typer.Typer(
    help="Look into and feed the task queue (the server must be running).", no_args_is_help=True
)

WORKSPACE = typer.Option(None, "--workspace", "-w", help="The workspace folder (default: found from here).")
JSON = typer.Option(False, "--json", help="Print JSON for scripts.")


def register(app: typer.Typer) -> None:
    """Add `serve` and the `queue` group to the root app."""
    app.command("serve")(serve)
    app.add_typer(queue_app, name="queue")


def serve(
    workspace: Path | None = WORKSPACE,
    port: int | None = typer.Option(None, "--port", help="Override [queue].port."),
    bind: str | None = typer.Option(
        None, "--bind", help="Override [queue].bind (non-loopback needs the token)."
    ),
) -> None:
    """Run the Task Queue Server in the foreground (the orchestrator runs it as the service `queue`)."""
    from autonomic.queue.server.run import serve as run_server

    found = Workspace.find(workspace)
    run_server(found, _server_settings(found, port, bind))


def _server_settings(workspace: Workspace, port: int | None, bind: str | None) -> QueueSettings:
    """The workspace's `[queue]` settings with command-line overrides, validated together."""
    from pydantic import ValidationError

    from autonomic import config
    from autonomic.queue.settings import QueueSettings

    settings = config.load(workspace).queue
    overrides = {k: v for k, v in (("port", port), ("bind", bind)) if v is not None}
    if not overrides:
        return settings
    try:
        return QueueSettings.model_validate({**settings.model_dump(), **overrides})
    except ValidationError as exc:
        error = exc.errors()[0]
        message = str(error["msg"]).removeprefix("Value error, ")
        raise UsageError(f"--{error['loc'][0]}: {message}" if error["loc"] else f"queue: {message}") from None


@queue_app.command("add")
def add(
    type: str = typer.Argument(..., help="The task type, e.g. ping."),
    data: str = typer.Option("{}", "--data", "-d", help="The task's data as a JSON object."),
    priority: str = typer.Option("normal", "--priority", "-p", help="urgent, normal or low."),
    delay: str | None = typer.Option(None, "--delay", help="Not before this long from now, e.g. 30s, 5m."),
    key: str | None = typer.Option(
        None, "--key", help="Idempotency key: adding again returns the same task."
    ),
    max_attempts: int | None = typer.Option(
        None, "--max-attempts", min=1, help="Then the dead-letter queue."
    ),
    workspace: Path | None = WORKSPACE,
    as_json: bool = JSON,
) -> None:
    """Enqueue one task; say so when it was queued before (same --key) or no live worker claims its type."""
    if priority not in ("urgent", "normal", "low"):
        raise UsageError(f"--priority must be urgent, normal or low, not {priority!r}")
    if not type.strip():
        raise UsageError("the task type must not be empty")
    with _client(workspace) as client:
        answer = client.enqueue(
            type,
            _object(data),
            priority,
            idempotency_key=key,
            delay=_seconds(delay),
            max_attempts=max_attempts,
        )
        unclaimed = answer.created and not _claimed_by_a_live_worker(client, type)
    task = answer.task
    if as_json:
        render.as_json({**task.model_dump(mode="json"), "created": answer.created})
    elif not answer.created:
        render.info(f"already queued as {task.task_id} ({task.type}, {task.status}); nothing added")
    elif task.worker:  # a waiting worker took it as it was stored
        render.success(f"queued {task.type} task {task.task_id} ({task.priority}): handed to {task.worker}")
    else:
        render.success(f"queued {task.type} task {task.task_id} ({task.priority}, {task.status})")
    if unclaimed:
        render.warn(
            f"no live worker claims {type!r} tasks: it stays queued until one does "
            "(check [worker] allow and types, or `autonomic status`)"
        )


def _claimed_by_a_live_worker(client: QueueClient, type_: str) -> bool:
    """True when a live worker claims `type_` (or every type); a server that will not say counts as yes."""
    from autonomic.errors import QueueError

    try:
        workers = client.workers()
    except QueueError:
        return True
    for worker in workers:
        types = (worker.get("info") or {}).get("types")
        if worker.get("live") and (not types or type_ in types):
            return True
    return False


@queue_app.command("list")
def list_tasks(
    status: str = typer.Option(
        "pending", "--status", "-s", help="pending, leased, done, failed, dead or cancelled."
    ),
    limit: int = typer.Option(50, "--limit", "-n", min=0),
    workspace: Path | None = WORKSPACE,
    as_json: bool = JSON,
) -> None:
    """List tasks in one status (pending ones in the order workers will get them)."""
    from autonomic.queue.task import TaskStatus

    try:
        wanted = TaskStatus(status)
    except ValueError:
        raise UsageError(f"--status must be one of {', '.join(TaskStatus)}, not {status!r}") from None
    with _client(workspace) as client:
        tasks = client.tasks(wanted, limit)
    if as_json:
        render.as_json([task.model_dump(mode="json") for task in tasks])
        return
    _task_table(tasks, f"{wanted} tasks")


@queue_app.command("get")
def get(task_id: str, workspace: Path | None = WORKSPACE, as_json: bool = JSON) -> None:
    """Show one task and its result, if it has one."""
    with _client(workspace) as client:
        task = client.get(task_id)
        result = client.result(task_id)
    fields: dict[str, Any] = task.model_dump(mode="json")
    fields.pop("id")
    if result is not None:
        fields["result"] = result.model_dump(mode="json")
    if as_json:
        render.as_json(fields)
        return
    render.table(
        ["field", "value"],
        [(k, json.dumps(v) if isinstance(v, dict | list) else v) for k, v in fields.items()],
    )


@queue_app.command("stats")
def stats(workspace: Path | None = WORKSPACE, as_json: bool = JSON) -> None:
    """Counts of pending, in-flight, finished and dead tasks, and live workers."""
    with _client(workspace) as client:
        found = client.stats()
    if as_json:
        render.as_json(found)
        return
    render.table(["stat", "value"], list(found.items()))


@queue_app.command("dlq")
def dlq(
    requeue: str | None = typer.Option(None, "--requeue", help="Put this dead task back in the queue."),
    limit: int = typer.Option(50, "--limit", "-n", min=0),
    workspace: Path | None = WORKSPACE,
    as_json: bool = JSON,
) -> None:
    """List the dead-letter queue (tasks out of attempts), or requeue one of them."""
    with _client(workspace) as client:
        if requeue is not None:
            task = client.requeue(requeue)
            if as_json:
                render.as_json(task.model_dump(mode="json"))
            else:
                render.success(f"requeued {task.type} task {task.task_id} with fresh attempts")
            return
        tasks = client.dead_letters(limit)
    if as_json:
        render.as_json([task.model_dump(mode="json") for task in tasks])
        return
    _task_table(tasks, "dead-letter queue")


@queue_app.command("cancel")
def cancel(task_id: str, workspace: Path | None = WORKSPACE) -> None:
    """Cancel a pending, running or dead task."""
    with _client(workspace) as client:
        client.cancel(task_id)
    render.success(f"cancelled task {task_id}")


def _client(workspace: Path | None) -> QueueClient:
    """A client of the workspace's own server: URL from `[queue]`, token from the workspace."""
    from autonomic import api_token, config
    from autonomic.queue.client import QueueClient

    found = Workspace.find(workspace)
    return QueueClient(config.load(found).queue.url, api_token.for_client(found), worker_name="cli")


def _object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--data is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UsageError('--data must be a JSON object, like \'{"url": "https://example.com"}\'')
    return value


def _seconds(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"--delay: {exc}") from None


def _task_table(tasks: list[Task], title: str) -> None:
    if not tasks:
        render.info(f"{title}: none")
        return
    render.table(
        ["id", "type", "priority", "status", "attempts", "age", "error"],
        [
            (t.task_id, t.type, t.priority, t.status, f"{t.attempts}/{t.max_attempts}", _age(t), t.last_error)
            for t in tasks
        ],
        title=f"{title} ({len(tasks)})",
    )


def _age(task: Task) -> str:
    from datetime import UTC, datetime

    return format_duration((datetime.now(UTC) - task.created_at).total_seconds())
