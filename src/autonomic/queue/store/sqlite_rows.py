"""Between SQLite rows and the API's `Task` and `Result` (epoch REALs in, aware datetimes out)."""

from __future__ import annotations

import json
import math
import sqlite3
from datetime import UTC, datetime
from typing import Any

from autonomic.queue.schemas import Result, Task
from autonomic.queue.task import Priority, TaskStatus


def dict_factory(cursor: sqlite3.Cursor, values: tuple[Any, ...]) -> dict[str, Any]:
    return {column[0]: value for column, value in zip(cursor.description, values, strict=True)}


def dump(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def when(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def duration_ms(data: dict[str, Any] | None) -> float | None:
    """`data.duration_ms` when it is a finite number: what /api/stats averages."""
    value = (data or {}).get("duration_ms")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def task(row: dict[str, Any]) -> Task:
    # model_construct: every value was validated on the way in; rebuilding thousands per second is hot.
    return Task.model_construct(
        task_id=row["id"],
        id=row["id"],
        type=row["type"],
        data=json.loads(row["data"]),
        priority=Priority.from_rank(row["priority"]),
        status=TaskStatus(row["status"]),
        created_at=at(row["created_at"]),
        run_at=at(row["run_at"]),
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        worker=row.get("worker"),
        leased_at=when(row.get("leased_at")),
        lease_expires_at=when(row.get("lease_expires_at")),
        finished_at=when(row.get("finished_at")),
        idempotency_key=row.get("idempotency_key"),
        last_error=row.get("last_error"),
    )


def result(row: dict[str, Any]) -> Result:
    data = row["result_data"]
    return Result.model_construct(
        task_id=row["id"],
        success=bool(row["success"]),
        data=None if data is None else json.loads(data),
        error=row["result_error"],
        submitted_at=at(row["finished_at"]),
        type=row["type"],
        worker=row["worker"],
        duration_ms=row["duration_ms"],
    )
