"""From the store's records to the API's models, and from its verdicts to HTTP status codes.

The store speaks the queue's language (epoch seconds, `Verdict`s); this module is the one place that
turns it into what the wire carries (aware datetimes, `Task`, `Result`, 404/409).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from autonomic.queue.schemas import Result, Task, Worker
from autonomic.queue.store.records import ResultRecord, TaskRecord, Verdict, WorkerRecord

VERDICT_STATUS: dict[Verdict, int] = {
    Verdict.ACCEPTED: 200,
    Verdict.UNKNOWN: 404,
    Verdict.FINISHED: 409,
    Verdict.NOT_HANDED_OUT: 409,
}


def at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _when(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def task(record: TaskRecord) -> Task:
    # model_construct: every value was validated on the way in; rebuilding thousands per second is hot.
    return Task.model_construct(**task_fields(record))


def task_fields(record: TaskRecord) -> dict[str, Any]:
    """A `Task`'s fields, in its order, from a record: what `Task` and the paged JSON are built from."""
    return {
        "task_id": record.id,
        "id": record.id,
        "type": record.type,
        "data": record.data,
        "priority": record.priority,
        "status": record.status,
        "created_at": at(record.created_at),
        "run_at": at(record.run_at),
        "attempts": record.attempts,
        "max_attempts": record.max_attempts,
        "worker": record.worker,
        "leased_at": _when(record.leased_at),
        "lease_expires_at": _when(record.lease_expires_at),
        "finished_at": _when(record.finished_at),
        "idempotency_key": record.idempotency_key,
        "last_error": record.last_error,
    }


def result(record: ResultRecord) -> Result:
    return Result.model_construct(
        task_id=record.task_id,
        success=record.success,
        data=record.data,
        error=record.error,
        submitted_at=at(record.finished_at),
        type=record.type,
        worker=record.worker,
        duration_ms=record.duration_ms,
    )


def worker(record: WorkerRecord, now: float, ttl: float) -> Worker:
    return Worker(
        name=record.name,
        last_seen=at(record.last_seen),
        age_sec=round(now - record.last_seen, 3),
        live=now - record.last_seen <= ttl,
        info=record.info,
    )
