"""The storage protocol every queue backend implements, and the policy a store applies on its own.

The semantics (leases, attempts, dead-lettering, first result wins, retention, paging) are pinned by
one contract test class, `tests/queue/test_store_contract.py`, run against every backend. The values
that cross the protocol are in `records.py`; none of them is an HTTP notion.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from autonomic.queue.settings import QueueSettings
from autonomic.queue.store.records import (
    Claim,
    Counts,
    Created,
    NewTask,
    Outcome,
    Page,
    ResultRecord,
    Submission,
    TaskRecord,
    WorkerRecord,
)
from autonomic.queue.task import TaskStatus

PAGE_MAX = 1000  # the most items one listing call returns, whatever it is asked for


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
    dead_max_age: float | None = None  # how long a dead-lettered task is kept; None: as results_max_age

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
            dead_max_age=settings.dead_max_age,
        )

    def backoff(self, attempts: int) -> float:
        """Seconds before a task whose lease expired is handed out again: doubling, capped."""
        exponent = min(max(attempts - 1, 0), 60)
        return min(self.retry_max_delay, self.retry_delay * math.pow(2, exponent))

    @property
    def dead_age(self) -> float:
        return self.results_max_age if self.dead_max_age is None else self.dead_max_age

    @property
    def forget_workers_after(self) -> float:
        """Workers silent this long are forgotten (live ones re-register on their next beat)."""
        return max(86400.0, 100 * self.worker_ttl)


class Store(Protocol):
    """Durable task storage. Every method is one transaction; the server owns timing and notification."""

    # True when calls are quick and local, so the server may make them on its event loop directly.
    inline: bool
    policy: Policy

    def create(self, tasks: Sequence[NewTask]) -> list[Created]:
        """Store new tasks at the back of their priority; a known idempotency key returns the original."""

    def claim(
        self, worker: str, types: Sequence[str], limit: int, lease: float | None = None
    ) -> list[TaskRecord]:
        """Lease up to `limit` ready tasks (of `types`, or any if empty), best priority first, FIFO within."""

    def create_and_claim(
        self, tasks: Sequence[NewTask], claims: Sequence[Claim]
    ) -> tuple[list[Created], list[list[TaskRecord]]]:
        """`create`, then each of `claims` in order, as `claim` would, all in one transaction: the tasks each
        waiting claim leased (possibly older ones, in claim order), one list per claim."""

    def next_ready_at(self, types: Sequence[str]) -> float | None:
        """When the earliest pending task of `types` becomes claimable (epoch seconds), or None."""

    def next_expiry(self) -> float | None:
        """When the earliest lease runs out (epoch seconds), or None if no task is leased."""

    def extend(
        self, task_id: str, worker: str, lease: float, attempt: int | None = None
    ) -> TaskRecord | None:
        """Push the lease of a task `worker` still holds to now + `lease`; None if it no longer holds it."""

    def unclaim(self, worker: str, task_ids: Sequence[str]) -> list[TaskRecord]:
        """Undo a claim whose answer never reached `worker`: its tasks that `worker` still holds go back
        to pending in their old place, the attempt not counted. Returns the tasks put back."""

    def release(self, task_id: str, worker: str, delay: float = 0.0, error: str | None = None) -> TaskRecord:
        """Give a held task back: to the back of the queue after `delay`, or dead if out of attempts."""

    def submit(self, results: Sequence[Submission]) -> list[Outcome]:
        """Store results. The first result for a task wins; later ones and unknown ids are refused.
        A result without `data.duration_ms` gets the time from its claim to now as its duration."""

    def reclaim_expired(self) -> list[TaskRecord]:
        """Requeue (at the back, after a back-off) or dead-letter every task whose lease has expired."""

    def evict(self) -> int:
        """Drop finished and dead tasks beyond the policy's age and count bounds, and long-gone workers."""

    def next_eviction_at(self) -> float | None:
        """When the oldest finished or dead task passes its age bound (epoch seconds), or None."""

    def get(self, task_id: str) -> TaskRecord:
        """The task, or `TaskNotFound`."""

    def result(self, task_id: str) -> ResultRecord | None:
        """The stored result of a task, or None if it has none (yet)."""

    def tasks(
        self, status: TaskStatus, types: Sequence[str] = (), limit: int = PAGE_MAX, after: str | None = None
    ) -> Page[TaskRecord]:
        """Tasks in `status`, in claim order for pending ones, oldest first for the others: at most
        `limit` (capped at PAGE_MAX), from the cursor `after`. `BadCursor` for a cursor not made here."""

    def results(self, limit: int, after: str | None = None) -> Page[ResultRecord]:
        """The newest results first, paged like `tasks`."""

    def counts(self) -> Counts:
        """Tasks per status and priority, cheaply (health probes call this every few seconds)."""

    def avg_duration_ms(self) -> float:
        """The mean duration over stored results (0.0 if there are none), cheaply."""

    def cancel(self, task_id: str) -> TaskRecord:
        """Cancel a pending, leased or dead task; `TaskConflict` if it already finished."""

    def requeue(self, task_id: str) -> TaskRecord:
        """Put a dead-lettered task back at the end of the queue with its attempts reset."""

    def heartbeat(self, name: str, info: dict[str, Any] | None = None) -> None:
        """Record that worker `name` is alive now (and what it said about itself, if anything)."""

    def claimed(self, name: str, types: Sequence[str]) -> None:
        """A claim by `name` for `types` (empty: every type) is a sign of life. A worker that never sent
        a heartbeat is listed with the types it claims (`info` `{"via": "claims", "types": [...]}`)."""

    def workers(self, limit: int = PAGE_MAX, after: str | None = None) -> Page[WorkerRecord]:
        """Workers heard from and not yet forgotten, by name, paged like `tasks`."""

    def live_workers(self, since: float) -> int:
        """How many workers were heard from at or after `since` (epoch seconds)."""

    def close(self) -> None:
        """Release the database and any lock on it."""
