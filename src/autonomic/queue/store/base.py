"""The storage protocol every queue backend implements, and the plain values that cross it.

The semantics (leases, attempts, dead-lettering, first result wins) are pinned by one contract test
class, `tests/queue/test_store_contract.py`, run against every backend.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from autonomic.errors import StateError
from autonomic.queue.schemas import Result, Task
from autonomic.queue.settings import QueueSettings
from autonomic.queue.task import Priority, TaskStatus


class StoreError(StateError):
    """The store cannot be read or written (corrupt file, full or read-only disk, lost connection)."""


@dataclass(frozen=True)
class Policy:
    """The rules a store applies when it has to decide on its own: lease length, retries, retention."""

    lease: float = 120.0
    max_attempts: int = 5
    retry_delay: float = 1.0
    retry_max_delay: float = 300.0
    results_max_age: float = 7 * 86400.0
    results_max_count: int = 10_000
    worker_ttl: float = 60.0

    @classmethod
    def from_settings(cls, settings: QueueSettings) -> Policy:
        return cls(
            lease=settings.lease,
            max_attempts=settings.max_attempts,
            retry_delay=settings.retry_delay,
            retry_max_delay=settings.retry_max_delay,
            results_max_age=settings.results_max_age,
            results_max_count=settings.results_max_count,
            worker_ttl=settings.worker_ttl,
        )

    def backoff(self, attempts: int) -> float:
        """Seconds before a task whose lease expired is handed out again: doubling, capped."""
        exponent = min(max(attempts - 1, 0), 60)
        return min(self.retry_max_delay, self.retry_delay * math.pow(2, exponent))


@dataclass(frozen=True)
class NewTask:
    """A task ready to be stored: every default already resolved by the caller."""

    type: str
    data: dict[str, Any]
    priority: Priority = Priority.NORMAL
    run_at: float | None = None  # epoch seconds; None means now
    max_attempts: int | None = None  # None means the store's policy
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Created:
    task: Task
    created: bool  # False when an idempotency key matched an existing task
    position: int  # 1-based place among pending tasks of its priority and above; 0 if not pending


@dataclass(frozen=True)
class Submission:
    task_id: str
    success: bool
    data: dict[str, Any] | None = None
    error: str | None = None
    worker: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What became of one submitted result: 200 stored, 404 unknown task, 409 not acceptable."""

    task_id: str
    status_code: int
    detail: str
    task: Task | None = None

    @property
    def accepted(self) -> bool:
        return self.status_code == 200


@dataclass(frozen=True)
class Counts:
    """How many tasks are in each status and priority."""

    by: Mapping[tuple[TaskStatus, Priority], int] = field(default_factory=dict)

    def of(self, status: TaskStatus, priority: Priority | None = None) -> int:
        if priority is not None:
            return self.by.get((status, priority), 0)
        return sum(self.by.get((status, p), 0) for p in Priority)


@dataclass(frozen=True)
class WorkerRecord:
    name: str
    info: dict[str, Any]
    last_seen: float


class Store(Protocol):
    """Durable task storage. Every method is one transaction; the server owns timing and notification."""

    # True when calls are quick and local, so the server may make them on its event loop directly.
    inline: bool
    policy: Policy

    def create(self, tasks: Sequence[NewTask]) -> list[Created]:
        """Store new tasks at the back of their priority; a known idempotency key returns the original."""

    def claim(self, worker: str, types: Sequence[str], limit: int, lease: float | None = None) -> list[Task]:
        """Lease up to `limit` ready tasks (of `types`, or any if empty), best priority first, FIFO within."""

    def next_ready_at(self, types: Sequence[str]) -> float | None:
        """When the earliest pending task of `types` becomes claimable (epoch seconds), or None."""

    def extend(self, task_id: str, worker: str, lease: float, attempt: int | None = None) -> Task | None:
        """Push the lease of a task `worker` still holds to now + `lease`; None if it no longer holds it."""

    def unclaim(self, worker: str, task_ids: Sequence[str]) -> list[Task]:
        """Undo a claim whose answer never reached `worker`: its tasks that `worker` still holds go back
        to pending in their old place, the attempt not counted. Returns the tasks put back."""

    def release(self, task_id: str, worker: str, delay: float = 0.0, error: str | None = None) -> Task:
        """Give a held task back: to the back of the queue after `delay`, or dead if out of attempts."""

    def submit(self, results: Sequence[Submission]) -> list[Outcome]:
        """Store results. The first result for a task wins; later ones and unknown ids are refused."""

    def reclaim_expired(self) -> list[Task]:
        """Requeue (at the back, after a back-off) or dead-letter every task whose lease has expired."""

    def evict(self) -> int:
        """Drop finished tasks beyond the policy's age and count bounds, and long-gone workers."""

    def get(self, task_id: str) -> Task:
        """The task, or `TaskNotFound`."""

    def result(self, task_id: str) -> Result | None:
        """The stored result of a task, or None if it has none (yet)."""

    def tasks(self, status: TaskStatus, types: Sequence[str] = (), limit: int = 1000) -> list[Task]:
        """Tasks in `status`, in claim order for pending ones, oldest first for the others."""

    def results(self, limit: int) -> list[Result]:
        """The newest `limit` results, newest first."""

    def counts(self) -> Counts:
        """Tasks per status and priority, cheaply (health probes call this every few seconds)."""

    def avg_duration_ms(self) -> float:
        """The mean `data.duration_ms` over stored results that carry one (0.0 if none do)."""

    def cancel(self, task_id: str) -> Task:
        """Cancel a pending, leased or dead task; `TaskConflict` if it already finished."""

    def requeue(self, task_id: str) -> Task:
        """Put a dead-lettered task back at the end of the queue with its attempts reset."""

    def heartbeat(self, name: str, info: dict[str, Any] | None = None) -> None:
        """Record that worker `name` is alive now (and what it said about itself, if anything)."""

    def workers(self) -> list[WorkerRecord]:
        """Every worker heard from and not yet evicted."""

    def close(self) -> None:
        """Release the database and any lock on it."""
