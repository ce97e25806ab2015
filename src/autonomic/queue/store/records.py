"""The plain values that cross the store protocol: what goes in, what comes out, and the verdicts.

They speak the queue's language, never HTTP's: times are epoch seconds, a refused result is a
`Verdict`, a list is a `Page` with an opaque cursor. The server maps them to status codes and API
models; a store never imports the API schemas.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from autonomic.queue.task import Priority, TaskStatus

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """One stored task. Times are epoch seconds on the store's clock."""

    id: str
    type: str
    data: dict[str, Any]
    priority: Priority
    status: TaskStatus
    created_at: float
    run_at: float
    attempts: int
    max_attempts: int
    worker: str | None = None
    leased_at: float | None = None
    lease_expires_at: float | None = None
    finished_at: float | None = None  # when it became done, failed, cancelled or dead
    idempotency_key: str | None = None
    last_error: str | None = None

    @property
    def task_id(self) -> str:
        return self.id


@dataclass(frozen=True, slots=True)
class ResultRecord:
    """The stored answer of a finished task."""

    task_id: str
    success: bool
    data: dict[str, Any] | None
    error: str | None
    finished_at: float
    type: str
    worker: str | None
    duration_ms: float | None  # what the worker reported, else claim-to-result as the store saw it


@dataclass(frozen=True, slots=True)
class WorkerRecord:
    name: str
    info: dict[str, Any]
    last_seen: float


@dataclass(frozen=True)
class NewTask:
    """A task ready to be stored: every default already resolved by the caller."""

    type: str
    data: dict[str, Any]
    priority: Priority = Priority.NORMAL
    run_at: float | None = None  # epoch seconds on the store's clock; None means now
    max_attempts: int | None = None  # None means the store's policy
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    """A claim the server holds open (a long poll with nothing to take yet), which a create may serve in
    its own transaction (`Store.create_and_claim`): the tasks go to the waiting worker without a claim
    transaction of their own. `lease` is resolved (seconds)."""

    worker: str
    types: tuple[str, ...]
    limit: int
    lease: float


@dataclass(frozen=True)
class Created:
    task: TaskRecord
    created: bool  # False when an idempotency key matched an existing task (`task` is that one)
    position: int  # 1-based place among pending tasks of its priority and above; 0 if not pending


@dataclass(frozen=True)
class Submission:
    task_id: str
    success: bool
    data: dict[str, Any] | None = None
    error: str | None = None
    worker: str | None = None


class Verdict(StrEnum):
    """What became of one submitted result."""

    ACCEPTED = "accepted"
    UNKNOWN = "unknown"  # no such task (never was, or evicted)
    FINISHED = "finished"  # it already has a result, or was cancelled: the first answer stands
    NOT_HANDED_OUT = "not-handed-out"  # nobody has claimed it yet, so nobody can answer it


@dataclass(frozen=True)
class Outcome:
    task_id: str
    verdict: Verdict
    detail: str
    task: TaskRecord | None = None
    # The stored result of an accepted submission, when the store has it at hand: the server hands it
    # to whoever waits for it without reading it back. None is always allowed (the waiter reads it).
    result: ResultRecord | None = None

    @property
    def accepted(self) -> bool:
        return self.verdict is Verdict.ACCEPTED


@dataclass(frozen=True)
class Counts:
    """How many tasks are in each status and priority."""

    by: Mapping[tuple[TaskStatus, Priority], int] = field(default_factory=dict)

    def of(self, status: TaskStatus, priority: Priority | None = None) -> int:
        if priority is not None:
            return self.by.get((status, priority), 0)
        return sum(self.by.get((status, p), 0) for p in Priority)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One bounded slice of a listing; `next` is the opaque cursor of the following one (None: the end)."""

    items: list[T]
    next: str | None = None


class BadCursor(ValueError):
    """A cursor this store did not make (or a different listing's)."""
