"""The store's commands on tasks: create, claim, extend, unclaim, release, submit, cancel, requeue.

Each function runs inside one `Tx` opened by `SqliteStore`; status changes go through `Tx.move`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from autonomic.queue.store import rules
from autonomic.queue.store.records import (
    Claim,
    Created,
    NewTask,
    Outcome,
    ResultRecord,
    Submission,
    TaskRecord,
    Verdict,
)
from autonomic.queue.store.sqlite import rows
from autonomic.queue.store.sqlite.connection import types_clause
from autonomic.queue.store.sqlite.engine import Tx
from autonomic.queue.store.sqlite.rows import Row
from autonomic.queue.task import Priority, TaskStatus, check_transition

log = logging.getLogger("autonomic.queue.store")


def create(tx: Tx, tasks: Sequence[NewTask]) -> list[Created]:
    return create_and_claim(tx, tasks, ())[0]


def create_and_claim(
    tx: Tx, tasks: Sequence[NewTask], claims: Sequence[Claim]
) -> tuple[list[Created], list[list[TaskRecord]]]:
    """Create, then serve the waiting `claims` in order. One task due now, for a claim with nothing older
    ready for it (the usual case: it waits because there was nothing), is stored leased to that claim
    straight away: one insert instead of an insert and a claim."""
    handed: list[list[TaskRecord]] = [[] for _ in claims]
    direct = None
    if len(tasks) == 1 and (tasks[0].run_at is None or tasks[0].run_at <= tx.now):
        direct = next((n for n, c in enumerate(claims) if not c.types or tasks[0].type in c.types), None)
        if direct is not None and _ready(tx, claims[direct].types):
            direct = None
    out: list[Created] = []
    ahead = _pending_by_rank(tx)
    for new in tasks:
        if new.idempotency_key and (row := tx.one("idempotency_key = ?", new.idempotency_key)):
            out.append(Created(rows.task(row), False, _position(tx, row)))
            direct = None  # nothing new to hand over
            continue
        rank = new.priority.rank
        ahead[rank] += 1
        position = sum(ahead[r] for r in range(rank + 1))
        if direct is not None:
            handed[direct].append(_insert(tx, new, claims[direct]))
            ahead[rank] -= 1
            out.append(Created(handed[direct][-1], True, position))
        else:
            out.append(Created(_insert(tx, new, None), True, position))
    for n, c in enumerate(claims):
        if n != direct:
            handed[n] = claim(tx, c.worker, c.types, c.limit, c.lease)
    return out, handed


def _ready(tx: Tx, types: Sequence[str]) -> bool:
    """Whether any task of `types` is ready to claim now."""
    where, args = types_clause(types)
    found = tx.db.execute(
        "SELECT 1 FROM tasks INDEXED BY tasks_claim WHERE status = 'pending' "  # noqa: S608 - fixed SQL
        f"AND run_at <= ? {where} LIMIT 1",
        (tx.now, *args),
    ).fetchone()
    return found is not None


def claim(tx: Tx, worker: str, types: Sequence[str], limit: int, lease: float | None) -> list[TaskRecord]:
    expires = tx.now + (tx.policy.lease if lease is None else lease)
    where, args = types_clause(types)
    ready = tx.db.execute(
        f"SELECT * FROM tasks INDEXED BY tasks_claim WHERE status = 'pending' AND run_at <= ? {where} "  # noqa: S608 - fixed SQL
        "ORDER BY priority, seq LIMIT ?",
        (tx.now, *args, limit),
    ).fetchall()
    return tx.move(
        ready,
        TaskStatus.LEASED,
        lambda row: {
            "worker": worker,
            "leased_at": tx.now,
            "lease_expires_at": expires,
            "attempts": row["attempts"] + 1,
        },
    )


def extend(tx: Tx, task_id: str, worker: str, lease: float, attempt: int | None) -> TaskRecord | None:
    row = tx.one("id = ?", task_id)
    if row is None or row["status"] != TaskStatus.LEASED or row["worker"] != worker:
        return None
    if attempt is not None and row["attempts"] != attempt:
        return None
    row["lease_expires_at"] = tx.now + lease
    tx.db.execute("UPDATE tasks SET lease_expires_at = ? WHERE id = ?", (row["lease_expires_at"], task_id))
    return rows.task(row)


def unclaim(tx: Tx, worker: str, task_ids: Sequence[str]) -> list[TaskRecord]:
    held = [
        row
        for task_id in task_ids
        if (row := tx.one("id = ? AND status = 'leased' AND worker = ?", task_id, worker))
    ]
    return tx.move(
        held,
        TaskStatus.PENDING,
        rules.unclaimed,
    )


def release(tx: Tx, task_id: str, worker: str, delay: float, error: str | None) -> TaskRecord:
    row = tx.task_row(task_id)
    rules.check_release(row, task_id, worker)
    return tx.retry([row], lambda _: delay, error or "released by the worker")[0]


# The common result, from the worker that holds the task, in one statement: no read before the write.
# The duration is the worker's, else claim to now, as `_duration_ms` computes it for the other cases.
_SUBMIT_HELD = (
    "UPDATE tasks SET status = ?, success = ?, result_data = ?, result_error = ?, finished_at = ?, "
    "lease_expires_at = NULL, duration_ms = COALESCE(?, ROUND(MAX(? - leased_at, 0.0) * 1000.0, 3)) "
    "WHERE id = ? AND status = 'leased' AND worker = ? RETURNING *"
)


def submit(tx: Tx, result: Submission) -> Outcome:
    if result.worker:
        status = TaskStatus.DONE if result.success else TaskStatus.FAILED  # from leased: always legal
        data = None if result.data is None else rows.dump(result.data)
        reported = rows.reported_duration_ms(result.data)
        args = (status.value, int(result.success), data, result.error, tx.now, reported, tx.now)
        held = tx.db.execute(_SUBMIT_HELD, (*args, result.task_id, result.worker)).fetchone()
        if held is not None:
            stored = ResultRecord(
                result.task_id,
                result.success,
                result.data,
                result.error,
                tx.now,
                held["type"],
                result.worker,
                held["duration_ms"],
            )
            return Outcome(result.task_id, Verdict.ACCEPTED, "Result submitted", rows.task(held), stored)
    row = tx.one("id = ?", result.task_id)
    if row is None:
        return Outcome(result.task_id, Verdict.UNKNOWN, f"no task {result.task_id}")
    status = TaskStatus(row["status"])
    if status.final:
        detail = f"task {result.task_id} is already {status}; the first result stands"
        return Outcome(result.task_id, Verdict.FINISHED, detail)
    if status is TaskStatus.PENDING and row["attempts"] == 0:
        detail = f"task {result.task_id} has not been handed to any worker yet"
        return Outcome(result.task_id, Verdict.NOT_HANDED_OUT, detail)
    if status is not TaskStatus.LEASED or (result.worker and row["worker"] != result.worker):
        log.warning(
            "task %s: late result from %r accepted (task was %s, held by %r)",
            result.task_id,
            result.worker,
            status,
            row["worker"],
        )
    worker = result.worker or row["worker"]
    duration_ms = _duration_ms(tx, row, result)
    task = tx.move(
        [row],
        TaskStatus.DONE if result.success else TaskStatus.FAILED,
        lambda _: {
            "success": int(result.success),
            "result_data": None if result.data is None else rows.dump(result.data),
            "result_error": result.error,
            "finished_at": tx.now,
            "lease_expires_at": None,
            "worker": worker,
            "duration_ms": duration_ms,
        },
    )[0]
    # What `reads.result` would read back (the data is what was just stored, as JSON carries it).
    stored = ResultRecord(
        result.task_id, result.success, result.data, result.error, tx.now, row["type"], worker, duration_ms
    )
    return Outcome(result.task_id, Verdict.ACCEPTED, "Result submitted", task, stored)


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
        lambda _: {
            "attempts": 0,
            "seq": tx.seq.next(),
            "run_at": tx.now,
            "worker": None,
            "finished_at": None,
        },
    )[0]


def _duration_ms(tx: Tx, row: Row, result: Submission) -> float | None:
    """What the worker reported; else the time from the claim to this result, as the store saw it."""
    reported = rows.reported_duration_ms(result.data)
    if reported is not None or row["leased_at"] is None:
        return reported
    return round(max(tx.now - float(row["leased_at"]), 0.0) * 1000.0, 3)


def _insert(tx: Tx, new: NewTask, leased_to: Claim | None) -> TaskRecord:
    """Store `new` pending, or leased to a waiting claim (its first attempt) when `leased_to` is given."""
    task_id = str(uuid.uuid4())
    run_at = tx.now if new.run_at is None else new.run_at
    max_attempts = tx.policy.max_attempts if new.max_attempts is None else new.max_attempts
    status, worker, leased_at, expires, attempts = TaskStatus.PENDING, None, None, None, 0
    if leased_to is not None:
        check_transition(status, TaskStatus.LEASED)
        status, worker, leased_at, attempts = TaskStatus.LEASED, leased_to.worker, tx.now, 1
        expires = tx.now + leased_to.lease
    tx.db.execute(
        "INSERT INTO tasks(id, type, data, priority, status, seq, created_at, run_at, attempts, "
        "max_attempts, idempotency_key, worker, leased_at, lease_expires_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            task_id,
            new.type,
            rows.dump(new.data),
            new.priority.rank,
            status.value,
            tx.seq.next(),
            tx.now,
            run_at,
            attempts,
            max_attempts,
            new.idempotency_key,
            worker,
            leased_at,
            expires,
        ),
    )
    return TaskRecord(
        id=task_id,
        type=new.type,
        data=new.data,
        priority=new.priority,
        status=status,
        created_at=tx.now,
        run_at=run_at,
        attempts=attempts,
        max_attempts=max_attempts,
        worker=worker,
        leased_at=leased_at,
        lease_expires_at=expires,
        idempotency_key=new.idempotency_key,
    )


_RANKS = tuple(p.rank for p in Priority)


def _pending_by_rank(tx: Tx) -> dict[int, int]:
    found = tx.db.execute(
        "SELECT priority, SUM(n) AS n FROM counts WHERE status = 'pending' GROUP BY priority"
    ).fetchall()
    ahead = dict.fromkeys(_RANKS, 0)
    ahead.update({r["priority"]: int(r["n"]) for r in found})
    return ahead


def _position(tx: Tx, row: Row) -> int:
    if row["status"] != TaskStatus.PENDING:
        return 0
    found = tx.db.execute(
        "SELECT COUNT(*) AS n FROM tasks WHERE status = 'pending' "
        "AND (priority < ? OR (priority = ? AND seq <= ?))",
        (row["priority"], row["priority"], row["seq"]),
    ).fetchone()
    return int(found["n"])
