"""The store's reads: single tasks and results, bounded pages, counts, and when the next thing is due.

Every listing is a keyset page along an index (never OFFSET), so the thousandth page of a queue of
millions costs what the first does. Cursors are opaque to callers: `status:rank:seq` for pending
tasks, `status:seq` for the others, `r:finished_at:seq` for results.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from autonomic.queue.store import rules
from autonomic.queue.store.records import Counts, Page, ResultRecord, TaskRecord
from autonomic.queue.store.sqlite import rows
from autonomic.queue.store.sqlite.connection import types_clause
from autonomic.queue.task import Priority, TaskStatus

PENDING_IN_ORDER = "SELECT * FROM tasks INDEXED BY tasks_claim WHERE status = 'pending'"


def next_ready_at(db: sqlite3.Connection, types: Sequence[str]) -> float | None:
    where, args = types_clause(types)
    row = db.execute(
        f"SELECT MIN(run_at) AS t FROM tasks INDEXED BY tasks_claim WHERE status = 'pending' {where}",  # noqa: S608
        args,
    ).fetchone()
    return None if row["t"] is None else float(row["t"])


def next_expiry(db: sqlite3.Connection) -> float | None:
    row = db.execute("SELECT MIN(lease_expires_at) AS t FROM tasks WHERE status = 'leased'").fetchone()
    return None if row["t"] is None else float(row["t"])


def result(db: sqlite3.Connection, task_id: str) -> ResultRecord | None:
    row = db.execute("SELECT * FROM tasks WHERE id = ? AND success IS NOT NULL", (task_id,)).fetchone()
    return None if row is None else rows.result(row)


def tasks(
    db: sqlite3.Connection, status: TaskStatus, types: Sequence[str], limit: int, after: str | None
) -> Page[TaskRecord]:
    where, args = types_clause(types)
    limit = rules.bounded(limit)
    if limit == 0:
        return Page([], None)
    if status is TaskStatus.PENDING:
        rank, seq = rules.task_cursor(after, status.value, 2) if after else (-1, -1)
        sql = f"{PENDING_IN_ORDER} AND (priority, seq) > (?, ?) {where} ORDER BY priority, seq LIMIT ?"
        found = db.execute(sql, (rank, seq, *args, limit + 1)).fetchall()
        last = found[limit - 1] if len(found) > limit else None
        after_last = None if last is None else f"{status.value}:{last['priority']}:{last['seq']}"
    else:
        (seq,) = rules.task_cursor(after, status.value, 1) if after else (-1,)
        found = db.execute(
            f"SELECT * FROM tasks WHERE status = ? AND seq > ? {where} ORDER BY seq LIMIT ?",  # noqa: S608
            (status.value, seq, *args, limit + 1),
        ).fetchall()
        last = found[limit - 1] if len(found) > limit else None
        after_last = None if last is None else f"{status.value}:{last['seq']}"
    return Page([rows.task(r) for r in found[:limit]], after_last)


def results(db: sqlite3.Connection, limit: int, after: str | None) -> Page[ResultRecord]:
    limit = rules.bounded(limit)
    if limit == 0:
        return Page([], None)
    finished, seq = rules.result_cursor(after) if after else (float("inf"), 0)
    found = db.execute(
        "SELECT * FROM tasks WHERE finished_at IS NOT NULL AND success IS NOT NULL "
        "AND (finished_at < ? OR (finished_at = ? AND seq < ?)) "
        "ORDER BY finished_at DESC, seq DESC LIMIT ?",
        (finished, finished, seq, limit + 1),
    ).fetchall()
    last = found[limit - 1] if len(found) > limit else None
    after_last = None if last is None else f"r:{last['finished_at']!r}:{last['seq']}"
    return Page([rows.result(r) for r in found[:limit]], after_last)


def counts(db: sqlite3.Connection) -> Counts:
    found = db.execute("SELECT status, priority, n FROM counts").fetchall()
    return Counts({(TaskStatus(r["status"]), Priority.from_rank(r["priority"])): r["n"] for r in found})


def avg_duration_ms(db: sqlite3.Connection) -> float:
    row = db.execute("SELECT n, total FROM totals WHERE name = 'duration'").fetchone()
    if row is None or row["n"] <= 0:
        return 0.0
    return max(float(row["total"]) / int(row["n"]), 0.0)
