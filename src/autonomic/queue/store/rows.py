"""Between a backend's rows (dicts keyed by column name, JSON as text, times as epoch floats) and the
store's records. Both backends keep the same columns, so one converter serves SQLite and PostgreSQL."""

from __future__ import annotations

import json
import math
from typing import Any

from autonomic.queue.store.records import ResultRecord, TaskRecord, WorkerRecord
from autonomic.queue.task import Priority, TaskStatus

Row = dict[str, Any]


def dump(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def reported_duration_ms(data: dict[str, Any] | None) -> float | None:
    """`data.duration_ms` when the worker sent a finite, non-negative number."""
    value = (data or {}).get("duration_ms")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        return None
    return float(value)


def task(row: Row) -> TaskRecord:
    return TaskRecord(
        id=row["id"],
        type=row["type"],
        data=json.loads(row["data"]),
        priority=Priority.from_rank(row["priority"]),
        status=TaskStatus(row["status"]),
        created_at=row["created_at"],
        run_at=row["run_at"],
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        worker=row.get("worker"),
        leased_at=row.get("leased_at"),
        lease_expires_at=row.get("lease_expires_at"),
        finished_at=row.get("finished_at"),
        idempotency_key=row.get("idempotency_key"),
        last_error=row.get("last_error"),
    )


def result(row: Row) -> ResultRecord:
    data = row["result_data"]
    return ResultRecord(
        task_id=row["id"],
        success=bool(row["success"]),
        data=None if data is None else json.loads(data),
        error=row["result_error"],
        finished_at=row["finished_at"],
        type=row["type"],
        worker=row["worker"],
        duration_ms=row["duration_ms"],
    )


def worker(row: Row) -> WorkerRecord:
    return WorkerRecord(row["name"], json.loads(row["info"]), float(row["last_seen"]))
