"""Reads, retention and the worker registry on PostgreSQL.

Listings are keyset pages along an index (never OFFSET), with the same opaque cursors as the SQLite
store: `status:rank:seq` for pending tasks, `status:seq` for the others, `r:finished_at:seq` for
results, `w:name` for workers. Counts fold the appended tally deltas together when they pile up.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from autonomic.queue.store import rules
from autonomic.queue.store.postgres.engine import Tx
from autonomic.queue.store.postgres.schema import lock_key
from autonomic.queue.store.records import Counts, Page, ResultRecord, TaskRecord, WorkerRecord
from autonomic.queue.store.rows import dump, result, task, worker
from autonomic.queue.task import Priority, TaskStatus

FINISHED = "status IN ('done', 'failed', 'cancelled')"
FOLD_AT = 256  # tally rows beyond which a count folds them into one per status and priority


def _types(types: Sequence[str]) -> tuple[str, tuple[Any, ...]]:
    return ("AND type = ANY(%s)", (list(types),)) if types else ("", ())


def next_ready_at(tx: Tx, types: Sequence[str]) -> float | None:
    where, args = _types(types)
    found = tx.value(f"SELECT min(run_at) FROM tasks WHERE status = 'pending' {where}", *args)  # noqa: S608
    return None if found is None else float(found)


def next_expiry(tx: Tx) -> float | None:
    found = tx.value("SELECT min(lease_expires_at) FROM tasks WHERE status = 'leased'")
    return None if found is None else float(found)


def get(tx: Tx, task_id: str) -> TaskRecord | None:
    row = tx.row("SELECT * FROM tasks WHERE id = %s", task_id)
    return None if row is None else task(row)


def get_result(tx: Tx, task_id: str) -> ResultRecord | None:
    row = tx.row("SELECT * FROM tasks WHERE id = %s AND success IS NOT NULL", task_id)
    return None if row is None else result(row)


def tasks(
    tx: Tx, status: TaskStatus, types: Sequence[str], limit: int, after: str | None
) -> Page[TaskRecord]:
    where, args = _types(types)
    limit = rules.bounded(limit)
    if limit == 0:
        return Page([], None)
    if status is TaskStatus.PENDING:
        rank, seq = rules.task_cursor(after, status.value, 2) if after else (-1, -1)
        found = tx.rows(
            "SELECT * FROM tasks WHERE status = 'pending' AND (priority, seq) > (%s, %s) "  # noqa: S608
            f"{where} ORDER BY priority, seq LIMIT %s",
            rank,
            seq,
            *args,
            limit + 1,
        )
        last = found[limit - 1] if len(found) > limit else None
        following = None if last is None else f"{status.value}:{last['priority']}:{last['seq']}"
    else:
        (seq,) = rules.task_cursor(after, status.value, 1) if after else (-1,)
        found = tx.rows(
            f"SELECT * FROM tasks WHERE status = %s AND seq > %s {where} ORDER BY seq LIMIT %s",  # noqa: S608
            status.value,
            seq,
            *args,
            limit + 1,
        )
        last = found[limit - 1] if len(found) > limit else None
        following = None if last is None else f"{status.value}:{last['seq']}"
    return Page([task(r) for r in found[:limit]], following)


def results(tx: Tx, limit: int, after: str | None) -> Page[ResultRecord]:
    limit = rules.bounded(limit)
    if limit == 0:
        return Page([], None)
    finished, seq = rules.result_cursor(after) if after else (float("inf"), 0)
    found = tx.rows(
        "SELECT * FROM tasks WHERE finished_at IS NOT NULL AND success IS NOT NULL "
        "AND (finished_at, seq) < (%s, %s) ORDER BY finished_at DESC, seq DESC LIMIT %s",
        finished,
        seq,
        limit + 1,
    )
    last = found[limit - 1] if len(found) > limit else None
    following = None if last is None else f"r:{last['finished_at']!r}:{last['seq']}"
    return Page([result(r) for r in found[:limit]], following)


def counts(tx: Tx, status: TaskStatus | None = None) -> Counts:
    """Tasks per status and priority (of `status` only, if given), folding the deltas when they pile up."""
    where, args = ("WHERE status = %s", (status.value,)) if status else ("", ())
    found = tx.rows(
        f"SELECT status, priority, sum(n) AS n, count(*) AS parts FROM tallies {where} GROUP BY 1, 2",  # noqa: S608
        *args,
    )
    if sum(int(r["parts"]) for r in found) > FOLD_AT:
        fold(tx)
    return Counts(
        {(TaskStatus(r["status"]), Priority.from_rank(r["priority"])): int(r["n"]) for r in found if r["n"]}
    )


def avg_duration_ms(tx: Tx) -> float:
    row = tx.row("SELECT coalesce(sum(dur_n), 0) AS n, coalesce(sum(dur_total), 0) AS total FROM tallies")
    if row is None or int(row["n"]) <= 0:
        return 0.0
    return max(float(row["total"]) / int(row["n"]), 0.0)


def fold(tx: Tx) -> None:
    """Replace the tally deltas by one row per status and priority (one server at a time; others skip)."""
    if not tx.value("SELECT pg_try_advisory_xact_lock(%s)", lock_key(tx.schema, "fold")):
        return
    tx.conn.execute(
        "WITH gone AS (DELETE FROM tallies RETURNING *) "
        "INSERT INTO tallies SELECT status, priority, sum(n), sum(dur_n), sum(dur_total) FROM gone "
        "GROUP BY status, priority HAVING sum(n) <> 0 OR sum(dur_n) <> 0"
    )


# --- retention --------------------------------------------------------------------------------


def evict(tx: Tx) -> int:
    """Drop what the policy no longer keeps; the number of tasks removed."""
    policy = tx.policy
    aged = f"DELETE FROM tasks WHERE finished_at < %s AND {FINISHED}"  # noqa: S608 - fixed SQL
    removed = _deleted(tx, aged, tx.now - policy.results_max_age)
    removed += _deleted(
        tx, "DELETE FROM tasks WHERE finished_at < %s AND status = 'dead'", tx.now - policy.dead_age
    )
    # The count bound keeps the newest results_max_count finished or dead tasks.
    cutoff = tx.value(
        "SELECT finished_at FROM tasks WHERE finished_at IS NOT NULL "
        "ORDER BY finished_at DESC LIMIT 1 OFFSET %s",
        policy.results_max_count - 1,
    )
    if cutoff is not None:
        removed += _deleted(
            tx, "DELETE FROM tasks WHERE finished_at IS NOT NULL AND finished_at < %s", cutoff
        )
    tx.conn.execute("DELETE FROM workers WHERE last_seen < %s", (tx.now - policy.forget_workers_after,))
    fold(tx)
    return removed


def _deleted(tx: Tx, sql: str, *args: Any) -> int:
    return tx.conn.execute(sql.encode(), args).rowcount


def next_eviction_at(tx: Tx) -> float | None:
    """When the oldest finished or dead task passes its age bound, or a worker is to be forgotten."""
    policy = tx.policy
    due: list[float] = []
    oldest = tx.value(f"SELECT min(finished_at) FROM tasks WHERE finished_at IS NOT NULL AND {FINISHED}")  # noqa: S608
    if oldest is not None:
        due.append(oldest + policy.results_max_age)
    dead = tx.value("SELECT min(finished_at) FROM tasks WHERE status = 'dead'")
    if dead is not None:
        due.append(dead + policy.dead_age)
    seen = tx.value("SELECT min(last_seen) FROM workers")
    if seen is not None:
        due.append(seen + policy.forget_workers_after)
    return min(due) if due else None


# --- the worker registry --------------------------------------------------------------------------


def heartbeat(tx: Tx, name: str, info: dict[str, Any] | None) -> None:
    if info is None:
        tx.conn.execute(
            "INSERT INTO workers(name, info, last_seen) VALUES (%s, '{}', %s) "
            "ON CONFLICT (name) DO UPDATE SET last_seen = greatest(workers.last_seen, excluded.last_seen)",
            (name, tx.now),
        )
    else:
        tx.conn.execute(
            "INSERT INTO workers(name, info, last_seen) VALUES (%s, %s, %s) ON CONFLICT (name) "
            "DO UPDATE SET info = excluded.info, last_seen = greatest(workers.last_seen, excluded.last_seen)",
            (name, dump(info), tx.now),
        )


def claimed(tx: Tx, name: str, types: Sequence[str]) -> None:
    """A claim is a sign of life. A worker that never sent a heartbeat is listed with what it claims
    (`{"via": "claims", "types": [...]}`, no types meaning every type); a heartbeat's info is kept."""
    row = tx.row("SELECT info FROM workers WHERE name = %s FOR UPDATE", name)
    info = rules.claims_info(None if row is None else json.loads(row["info"]), types)
    if info is None:
        tx.conn.execute(
            "UPDATE workers SET last_seen = greatest(last_seen, %s) WHERE name = %s", (tx.now, name)
        )
    elif row is None:  # first heard of: unless another server registered it a moment ago
        tx.conn.execute(
            "INSERT INTO workers(name, info, last_seen) VALUES (%s, %s, %s) ON CONFLICT (name) "
            "DO UPDATE SET last_seen = greatest(workers.last_seen, excluded.last_seen)",
            (name, dump(info), tx.now),
        )
    else:
        heartbeat(tx, name, info)


def workers(tx: Tx, limit: int, after: str | None) -> Page[WorkerRecord]:
    """By name, from the cursor `w:<name>` on."""
    limit = rules.bounded(limit)
    if limit == 0:
        return Page([], None)
    found = tx.rows(
        "SELECT * FROM workers WHERE name > %s ORDER BY name LIMIT %s", rules.worker_cursor(after), limit + 1
    )
    return Page([worker(r) for r in found[:limit]], rules.next_worker_cursor(found, limit))


def live_workers(tx: Tx, since: float) -> int:
    return int(tx.value("SELECT count(*) FROM workers WHERE last_seen >= %s", since))


# --- cursors ----------------------------------------------------------------------------------
