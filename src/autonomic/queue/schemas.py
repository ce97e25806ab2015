"""Request and response bodies of the queue API, shared by the server routes and the Python client.

Field names follow ORIGIN_API.md where the original server had them (`task_id` *and* `id`, `priority`
as a string, ISO timestamps); everything else is a native extension that original clients ignore.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from autonomic.queue.task import Priority, TaskStatus
from autonomic.values import Delay, Lease, Wait

TYPE_FIELD = Field(min_length=1, max_length=200, description="The task type workers dispatch on.")


def _finite(value: Any) -> Any:
    """Reject NaN and infinities anywhere in a JSON value: they are not JSON and cannot be sent back."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers must be finite (NaN and Infinity are not JSON)")
    if isinstance(value, dict):
        for item in value.values():
            _finite(item)
    elif isinstance(value, list):
        for item in value:
            _finite(item)
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(_finite)]


class _Body(BaseModel):
    # Unknown keys are ignored, never refused: the original clients send extras like `requester`.
    model_config = ConfigDict(extra="ignore")


# --- tasks ----------------------------------------------------------------------------------------


class Task(BaseModel):
    """A task as the API shows it. `id` repeats `task_id` because some original clients read `id`."""

    task_id: str
    id: str
    type: str
    data: dict[str, Any]
    priority: Priority
    status: TaskStatus
    created_at: datetime
    run_at: datetime
    attempts: int = Field(description="How many times the task has been handed to a worker.")
    max_attempts: int
    worker: str | None = None
    leased_at: datetime | None = None
    lease_expires_at: datetime | None = None
    finished_at: datetime | None = None
    idempotency_key: str | None = None
    last_error: str | None = None


class NoTask(BaseModel):
    """What `next` answers when nothing is ready: `{"task": null}`."""

    task: None = None


class TaskCreate(_Body):
    """A task to enqueue. `type` and `data` are the original fields; the rest are native extensions."""

    type: str = TYPE_FIELD
    data: JsonObject = Field(description="The task's input, any JSON object.")
    priority: Priority | None = None
    idempotency_key: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Creating again with the same key returns the original task instead of a new one.",
    )
    delay: Delay | None = Field(None, description="Seconds before it may be claimed.")
    run_at: datetime | None = Field(None, description="Not claimable before this time.")
    max_attempts: int | None = Field(None, ge=1, le=1000)

    @model_validator(mode="after")
    def _one_schedule(self) -> TaskCreate:
        if self.delay is not None and self.run_at is not None:
            raise ValueError("give delay or run_at, not both")
        return self


class LegacyEnqueue(_Body):
    """POST /api/enqueue as the original accepted it: type from `task_type`, else `type`, else "generic"."""

    task_type: str | None = Field(None, max_length=200)
    type: str | None = Field(None, max_length=200)
    params: JsonObject | None = None
    data: JsonObject | None = None
    priority: str | None = None

    def to_create(self) -> TaskCreate:
        data = self.params if self.params is not None else self.data
        return TaskCreate(
            type=self.task_type or self.type or "generic",
            data=data if data is not None else {},
            priority=Priority.lenient(self.priority) if self.priority is not None else None,
        )


class LegacyTaskCreate(_Body):
    """POST /api/tasks in the older dialect: `{task_type, data, requester}`."""

    task_type: str = TYPE_FIELD
    data: JsonObject = Field(default_factory=dict)
    requester: str | None = Field(None, max_length=200)
    priority: str | None = None


class TaskCreated(BaseModel):
    """The original create answer, plus `id`, `created` (false on an idempotent repeat) and the task."""

    task_id: str
    id: str
    message: str
    queue_position: int
    priority: Priority
    created: bool = True
    task: Task
    result: Result | None = Field(None, description="With ?wait=: the result, if it came in time.")


class TaskBatch(_Body):
    tasks: list[TaskCreate] = Field(min_length=1)


class TaskList(BaseModel):
    """GET /api/tasks: both shapes the original clients read (`queue` + `queue_size`, and per priority)."""

    queue: list[Task]
    queue_size: int
    queue_urgent: list[Task]
    queue_normal: list[Task]
    queue_low: list[Task]
    total_queue_size: int
    count: int
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last.")


class Tasks(BaseModel):
    tasks: list[Task]
    count: int
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last.")


# --- claims, leases -------------------------------------------------------------------------------


class ClaimRequest(_Body):
    """A batch claim: up to `max_tasks` tasks of `types` (all types if empty), waiting up to `wait` s."""

    types: list[str] = Field(default_factory=list, max_length=200)
    max_tasks: int = Field(1, ge=1, le=100_000)
    wait: Wait = 0.0
    lease: Lease | None = Field(None, description="Seconds the worker may hold each task.")


class Extend(_Body):
    lease: Lease
    attempt: int | None = Field(None, ge=1, description="Only extend if this is still that delivery.")


class Extended(BaseModel):
    extended: bool
    lease_expires_at: datetime | None = None


class Release(_Body):
    delay: Delay = 0.0
    error: str | None = Field(None, max_length=10_000)


# --- results --------------------------------------------------------------------------------------


class ResultBody(_Body):
    """A worker's answer for one task, as the original `POST /api/tasks/{task_id}/result` body."""

    success: bool
    data: JsonObject | None = None
    error: str | None = None


class ResultIn(ResultBody):
    """A worker's answer naming its task: the items of a batch result and `QueueClient.submit_many`."""

    task_id: str = Field(min_length=1)


class ResultBatch(_Body):
    results: list[ResultIn] = Field(min_length=1)


class ResultAccepted(BaseModel):
    message: str
    success: bool


class Rejected(BaseModel):
    task_id: str
    status_code: int
    detail: str


class BatchAccepted(BaseModel):
    accepted: list[str]
    rejected: list[Rejected]


class Result(BaseModel):
    """A stored result (ORIGIN_API: task_id, success, data, error, submitted_at) plus where it came from."""

    task_id: str
    success: bool
    data: dict[str, Any] | None
    error: str | None
    submitted_at: datetime
    type: str | None = None
    worker: str | None = None
    duration_ms: float | None = None


class ResultList(BaseModel):
    results: list[Result]
    count: int
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last.")


# --- workers, health, stats -----------------------------------------------------------------------


class WorkerInfo(_Body):
    """What a worker says about itself in a heartbeat. Extra keys are kept and shown in /api/workers."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, max_length=200)
    types: list[str] = Field(default_factory=list)
    concurrency: int = Field(1, ge=0, le=100_000)
    running: int = Field(0, ge=0, le=100_000)


class Worker(BaseModel):
    name: str
    last_seen: datetime
    age_sec: float
    live: bool
    info: dict[str, Any]


class WorkerList(BaseModel):
    workers: list[Worker]
    count: int
    live: int
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last.")


class Inflight(BaseModel):
    task_id: str
    type: str
    leased_at: datetime | None
    worker: str | None
    age_sec: float
    lease_expires_at: datetime | None
    attempts: int


class InflightList(BaseModel):
    inflight: list[Inflight]
    count: int
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last.")


class Health(BaseModel):
    status: str = "ok"
    service: str = "task-queue-server"
    queue_size: int
    results_count: int
    timestamp: datetime
    queue_urgent: int
    queue_normal: int
    queue_low: int


class Stats(BaseModel):
    """The original /api/stats fields; `workers` counts live registered workers, not lease holders."""

    pending: int
    inflight: int
    completed: int
    successful: int
    failed: int
    success_rate: float
    success_rate_basis: int = Field(0, description="Finished tasks success_rate comes from (0: none yet).")
    workers: int
    avg_duration_ms: float
    timestamp: datetime
    pending_urgent: int
    pending_normal: int
    pending_low: int
    dead: int
    cancelled: int


class Message(BaseModel):
    message: str


class ErrorBody(BaseModel):
    detail: str


TaskCreated.model_rebuild()  # it names `Result`, defined below it
