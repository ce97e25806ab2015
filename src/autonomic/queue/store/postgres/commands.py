"""The store's commands on PostgreSQL: create, claim, extend, unclaim, release, submit, cancel,
requeue, reclaim. Each runs inside one `Tx`; status changes go through `Tx.move` on locked rows.

Concurrency between servers: claims take rows `FOR UPDATE SKIP LOCKED` (two servers never hand out
the same task, and never wait on each other); every other command locks the rows it decides on,
always in id order (no deadlock between two batches); an idempotency key is a unique index, so two
servers creating the same key at once end with one task, both answering with it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from autonomic.queue.store import rules
from autonomic.queue.store.postgres import reads
from autonomic.queue.store.postgres.engine import Tx
from autonomic.queue.store.records import Claim, Created, NewTask, Outcome, Submission, TaskRecord, Verdict
from autonomic.queue.store.rows import Row, dump, reported_duration_ms, task
from autonomic.queue.task import Priority, TaskStatus

log = logging.getLogger("autonomic.queue.store")

INSERT = (
    "INSERT INTO tasks(id, type, data, priority, status, seq, created_at, run_at, attempts, max_attempts, "
    "idempotency_key) VALUES (%s, %s, %s, %s, 'pending', nextval('task_seq'), %s, %s, 0, %s, %s) "
    "ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING *"
)


def create(tx: Tx, tasks: Sequence[NewTask]) -> list[Created]:
    _lock_keys(tx, tasks)
    ahead = _pending_by_rank(tx)
    out: list[Created] = []
    for new in tasks:
        row, existing = _insert(tx, new)
        if row is None:
            out.append(Created(task(existing), False, _position(tx, existing)))  # type: ignore[arg-type]
            continue
        rank = new.priority.rank
        ahead[rank] += 1
        tx.ready = True
        out.append(Created(task(row), True, sum(ahead[r] for r in range(rank + 1))))
    return out


def _insert(tx: Tx, new: NewTask) -> tuple[Row | None, Row | None]:
    """(the new row, None), or (None, the task that already has this idempotency key)."""
    while True:
        row = tx.row(
            INSERT,
            str(uuid.uuid4()),
            new.type,
            dump(new.data),
            new.priority.rank,
            tx.now,
            tx.now if new.run_at is None else new.run_at,
            tx.policy.max_attempts if new.max_attempts is None else new.max_attempts,
            new.idempotency_key,
        )
        if row is not None:
            return row, None
        # The key exists, possibly created by another server a moment ago (its commit is visible now).
        found = tx.row("SELECT * FROM tasks WHERE idempotency_key = %s", new.idempotency_key)
        if found is not None:
            return None, found
        # evicted between the two statements: the key is free again, so insert once more


def create_and_claim(
    tx: Tx, tasks: Sequence[NewTask], claims: Sequence[Claim]
) -> tuple[list[Created], list[list[TaskRecord]]]:
    created = create(tx, tasks)
    return created, [claim(tx, c.worker, c.types, c.limit, c.lease) for c in claims]


def claim(tx: Tx, worker: str, types: Sequence[str], limit: int, lease: float | None) -> list[TaskRecord]:
    expires = tx.now + (tx.policy.lease if lease is None else lease)
    typed = "AND type = ANY(%s)" if types else ""
    args = (tx.now, *([list(types)] if types else []), limit)
    # pending -> leased, the only transition here, is always legal (TRANSITIONS).
    found = tx.rows(
        "WITH ready AS (SELECT id FROM tasks WHERE status = 'pending' AND run_at <= %s "  # noqa: S608
        f"{typed} ORDER BY priority, seq LIMIT %s FOR UPDATE SKIP LOCKED) "
        "UPDATE tasks SET status = 'leased', worker = %s, leased_at = %s, lease_expires_at = %s, "
        "attempts = tasks.attempts + 1 FROM ready WHERE tasks.id = ready.id RETURNING tasks.*",
        *args,
        worker,
        tx.now,
        expires,
    )
    if found:
        tx.lease_until = expires
    found.sort(key=lambda row: (row["priority"], row["seq"]))
    return [task(row) for row in found]


def extend(tx: Tx, task_id: str, worker: str, lease: float, attempt: int | None) -> TaskRecord | None:
    row = tx.row(
        "UPDATE tasks SET lease_expires_at = %s WHERE id = %s AND status = 'leased' AND worker = %s "
        "AND (%s::integer IS NULL OR attempts = %s::integer) RETURNING *",
        tx.now + lease,
        task_id,
        worker,
        attempt,
        attempt,
    )
    return None if row is None else task(row)


def unclaim(tx: Tx, worker: str, task_ids: Sequence[str]) -> list[TaskRecord]:
    held = tx.rows(
        "SELECT * FROM tasks WHERE id = ANY(%s) AND status = 'leased' AND worker = %s ORDER BY id FOR UPDATE",
        list(task_ids),
        worker,
    )
    return tx.move(
        held,
        TaskStatus.PENDING,
        rules.unclaimed,
    )


def release(tx: Tx, task_id: str, worker: str, delay: float, error: str | None) -> TaskRecord:
    row = tx.task_row(task_id)
    rules.check_release(row, task_id, worker)
    return tx.retry([row], lambda _: delay, error or "released by the worker")[0]


def submit(tx: Tx, results: Sequence[Submission]) -> list[Outcome]:
    """Decide every result of the batch on rows locked in id order; the first result for a task wins."""
    ids = sorted({r.task_id for r in results})
    rows = {
        row["id"]: row
        for row in tx.rows("SELECT * FROM tasks WHERE id = ANY(%s) ORDER BY id FOR UPDATE", ids)
    }
    outcomes: list[Outcome] = []
    for result in results:
        row = rows.get(result.task_id)
        if row is None:
            outcomes.append(Outcome(result.task_id, Verdict.UNKNOWN, f"no task {result.task_id}"))
            continue
        status = TaskStatus(row["status"])
        if status.final:
            detail = f"task {result.task_id} is already {status}; the first result stands"
            outcomes.append(Outcome(result.task_id, Verdict.FINISHED, detail))
            continue
        if status is TaskStatus.PENDING and row["attempts"] == 0:
            detail = f"task {result.task_id} has not been handed to any worker yet"
            outcomes.append(Outcome(result.task_id, Verdict.NOT_HANDED_OUT, detail))
            continue
        if status is not TaskStatus.LEASED or (result.worker and row["worker"] != result.worker):
            log.warning(
                "task %s: late result from %r accepted (task was %s, held by %r)",
                result.task_id,
                result.worker,
                status,
                row["worker"],
            )
        [done] = tx.move(
            [row],
            TaskStatus.DONE if result.success else TaskStatus.FAILED,
            lambda _, r=result, old=row: {  # type: ignore[misc]
                "success": r.success,
                "result_data": None if r.data is None else dump(r.data),
                "result_error": r.error,
                "finished_at": tx.now,
                "lease_expires_at": None,
                "worker": r.worker or old["worker"],
                "duration_ms": _duration_ms(tx, old, r),
            },
        )
        rows[result.task_id] = {**row, "status": done.status.value}
        tx.results.append(result.task_id)
        outcomes.append(Outcome(result.task_id, Verdict.ACCEPTED, "Result submitted", done))
    return outcomes


def cancel(tx: Tx, task_id: str) -> TaskRecord:
    row = tx.task_row(task_id)
    rules.check_cancellable(row, task_id)
    return tx.move([row], TaskStatus.CANCELLED, lambda _: {"finished_at": tx.now, "lease_expires_at": None})[
        0
    ]


def requeue(tx: Tx, task_id: str) -> TaskRecord:
    row = tx.task_row(task_id)
    rules.check_requeueable(row, task_id)
    return tx.move(
        [row],
        TaskStatus.PENDING,
        lambda _: {"attempts": 0, "seq": None, "run_at": tx.now, "worker": None, "finished_at": None},
    )[0]


def reclaim_expired(tx: Tx) -> list[TaskRecord]:
    """Expired leases, each handled by exactly one server: rows another server is handling are skipped."""
    expired = tx.rows(
        "SELECT * FROM tasks WHERE status = 'leased' AND lease_expires_at <= %s "
        "ORDER BY lease_expires_at FOR UPDATE SKIP LOCKED",
        tx.now,
    )
    rules.log_expired(expired)
    return tx.retry(expired, lambda row: tx.policy.backoff(row["attempts"]), "lease expired")


def _duration_ms(tx: Tx, row: Row, result: Submission) -> float | None:
    """What the worker reported; else the time from the claim to this result, as the store saw it."""
    reported = reported_duration_ms(result.data)
    if reported is not None or row["leased_at"] is None:
        return reported
    return round(max(tx.now - float(row["leased_at"]), 0.0) * 1000.0, 3)


def _pending_by_rank(tx: Tx) -> dict[int, int]:
    pending = reads.counts(tx, TaskStatus.PENDING)
    return {p.rank: pending.of(TaskStatus.PENDING, p) for p in Priority}


def _lock_keys(tx: Tx, tasks: Sequence[NewTask]) -> None:
    """Take the batch's idempotency keys (as transaction advisory locks) in one sorted order first, so two
    servers creating overlapping keys in different orders queue behind each other instead of deadlocking."""
    keys = sorted({t.idempotency_key for t in tasks if t.idempotency_key})
    if len(keys) > 1:
        tx.conn.execute(
            "SELECT pg_advisory_xact_lock(h) FROM "
            "(SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest(%s::text[]) AS k ORDER BY 1) AS s",
            (keys,),
        )


def _position(tx: Tx, row: Row) -> int:
    if row["status"] != TaskStatus.PENDING:
        return 0
    return int(
        tx.value(
            "SELECT count(*) FROM tasks WHERE status = 'pending' AND (priority, seq) <= (%s, %s)",
            row["priority"],
            row["seq"],
        )
    )
