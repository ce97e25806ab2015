"""Running handlers in-process: a task context over a temporary workspace, and the runner's outcome."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from autonomic.worker import execution
from autonomic.worker.context import Resources, TaskContext
from autonomic.worker.files import FileGuard
from autonomic.worker.outcome import Outcome
from autonomic.worker.registry import Registry
from autonomic.worker.settings import WorkerSettings
from autonomic.workspace import Workspace


def context(root: Path, type_: str, data: dict[str, Any] | None = None, **settings: Any) -> TaskContext:
    workspace = Workspace.at(root)
    workspace.outputs.mkdir(parents=True, exist_ok=True)
    worker_settings = WorkerSettings(**settings)
    registry = Registry.build(worker_settings, extra=[])
    return TaskContext(
        task_id="task-1",
        type=type_,
        data=data or {},
        attempts=1,
        worker="tester",
        workspace=workspace,
        settings=worker_settings,
        files=FileGuard.for_workspace(workspace, worker_settings.file_dirs),
        resources=Resources(worker_settings, capabilities=registry.types),
    )


def run(
    root: Path, type_: str, data: dict[str, Any] | None = None, timeout: float = 10.0, **settings: Any
) -> Outcome:
    """Run the registered handler for `type_` once, as the worker would, and return its outcome."""
    ctx = context(root, type_, data, **settings)
    registered = Registry.build(ctx.settings, extra=[]).get(type_)
    assert registered is not None, f"{type_} is not registered with {settings}"
    return asyncio.run(execution.run(registered, ctx, timeout))
