"""The default store: one SQLite file in WAL mode, owned by one queue server at a time.

Durability: every method commits before it returns, so a task is on disk before the server
acknowledges it. With `sync="full"` each commit is fsynced (survives a power cut); with "normal" the
WAL is fsynced at checkpoints only, which still survives the kill -9 of any process.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from autonomic.clock import Clock, SystemClock
from autonomic.queue.errors import TaskConflict, TaskNotFound
from autonomic.queue.schemas import Result, Task
from autonomic.queue.store import sqlite_rows as rows
from autonomic.queue.store.base import (
    Counts,
    Created,
    NewTask,
    Outcome,
    Policy,
    StoreError,
    Submission,
    WorkerRecord,
)
from autonomic.queue.store.sqlite_connection import connect, exclusive, translated, types_clause
from autonomic.queue.task import Priority, TaskStatus, check_transition

log = logging.getLogger("autonomic.queue.store")
Row = dict[str, Any]


class SqliteStore:
    """`Store` on a SQLite file. Calls are short local transactions, safe to make on an event loop."""

    inline = True

    def __init__(
        self, path: Path, *, clock: Clock | None = None, policy: Policy | None = None, sync: str = "normal"
    ) -> None:
        self.path = path
        self.policy = policy or Policy()
        self._clock = clock or SystemClock()
        self._mutex = threading.RLock()
        self._full = self._fsyncing = sync == "full"
        self._lock = exclusive(path)
        try:
            self._db = connect(path, sync)
            self._seq = int(self._db.execute("SELECT COALESCE(MAX(seq), 0) AS s FROM tasks").fetchone()["s"])
        except BaseException:
            self._lock.release()
            raise

    # --- writes -----------------------------------------------------------------------------------

    def create(self, tasks: Sequence[NewTask]) -> list[Created]:
        now = self._clock.time()
        out: list[Created] = []
        with self._write() as db:
            ahead = self._pending_by_rank(db)
            for new in tasks:
                if new.idempotency_key and (row := _one(db, "idempotency_key = ?", new.idempotency_key)):
                    out.append(Created(rows.task(row), False, self._position(db, row)))
                    continue
                row = self._insert(db, new, now)
                rank = new.priority.rank
                ahead[rank] += 1
                out.append(Created(rows.task(row), True, sum(ahead[r] for r in range(rank + 1))))
        return out

    def claim(self, worker: str, types: Sequence[str], limit: int, lease: float | None = None) -> list[Task]:
        now = self._clock.time()
        expires = now + (lease or self.policy.lease)
        where, args = types_clause(types)
        # Deferred: an empty queue (the long-poll case) costs a read, not a write lock and a commit.
        with self._write(durable=False, deferred=True) as db:
            ready = db.execute(
                f"SELECT * FROM tasks WHERE status = 'pending' AND run_at <= ? {where} "  # noqa: S608 - fixed SQL
                "ORDER BY priority, seq LIMIT ?",
                (now, *args, limit),
            ).fetchall()
            return self._move(
                db,
                ready,
                TaskStatus.LEASED,
                lambda row: {
                    "worker": worker,
                    "leased_at": now,
                    "lease_expires_at": expires,
                    "attempts": row["attempts"] + 1,
                },
            )

    def extend(self, task_id: str, worker: str, lease: float, attempt: int | None = None) -> Task | None:
        with self._write(durable=False) as db:
            row = _one(db, "id = ?", task_id)
            if row is None or row["status"] != TaskStatus.LEASED or row["worker"] != worker:
                return None
            if attempt is not None and row["attempts"] != attempt:
                return None
            row["lease_expires_at"] = self._clock.time() + lease
            db.execute(
                "UPDATE tasks SET lease_expires_at = ? WHERE id = ?", (row["lease_expires_at"], task_id)
            )
            return rows.task(row)

    def unclaim(self, worker: str, task_ids: Sequence[str]) -> list[Task]:
        with self._write(durable=False) as db:
            held = [
                row
                for task_id in task_ids
                if (row := _one(db, "id = ? AND status = 'leased' AND worker = ?", task_id, worker))
            ]
            return self._move(
                db,
                held,
                TaskStatus.PENDING,
                lambda row: {
                    "attempts": row["attempts"] - 1,
                    "worker": None,
                    "leased_at": None,
                    "lease_expires_at": None,
                },
            )

    def release(self, task_id: str, worker: str, delay: float = 0.0, error: str | None = None) -> Task:
        with self._write() as db:
            row = _task_row(db, task_id)
            if row["status"] != TaskStatus.LEASED:
                raise TaskConflict(f"task {task_id} is {row['status']}, not leased: nothing to release")
            if row["worker"] != worker:
                raise TaskConflict(f"task {task_id} is leased by {row['worker']!r}, not {worker!r}")
            return self._retry(db, [row], lambda _: delay, error or "released by the worker")[0]

    def submit(self, results: Sequence[Submission]) -> list[Outcome]:
        now = self._clock.time()
        with self._write() as db:
            return [self._submit_one(db, result, now) for result in results]

    def reclaim_expired(self) -> list[Task]:
        now = self._clock.time()
        with self._write(durable=False) as db:
            expired = db.execute(
                "SELECT * FROM tasks WHERE status = 'leased' AND lease_expires_at <= ? "
                "ORDER BY lease_expires_at",
                (now,),
            ).fetchall()
            for row in expired:
                log.warning(
                    "task %s (%s): lease of worker %r expired after attempt %d",
                    row["id"],
                    row["type"],
                    row["worker"],
                    row["attempts"],
                )
            return self._retry(db, expired, lambda row: self.policy.backoff(row["attempts"]), "lease expired")

    def evict(self) -> int:
        now = self._clock.time()
        with self._write(durable=False) as db:
            removed = db.execute(
                "DELETE FROM tasks WHERE finished_at IS NOT NULL AND finished_at < ?",
                (now - self.policy.results_max_age,),
            ).rowcount
            cutoff = db.execute(
                "SELECT finished_at FROM tasks WHERE finished_at IS NOT NULL ORDER BY finished_at DESC "
                "LIMIT 1 OFFSET ?",
                (self.policy.results_max_count - 1,),
            ).fetchone()
            if cutoff is not None:
                removed += db.execute(
                    "DELETE FROM tasks WHERE finished_at IS NOT NULL AND finished_at < ?",
                    (cutoff["finished_at"],),
                ).rowcount
            # Workers silent for a day (or 100 TTLs) are forgotten; live ones re-register on their next beat.
            forget_before = now - max(86400.0, 100 * self.policy.worker_ttl)
            db.execute("DELETE FROM workers WHERE last_seen < ?", (forget_before,))
            return removed

    def cancel(self, task_id: str) -> Task:
        with self._write() as db:
            row = _task_row(db, task_id)
            if TaskStatus(row["status"]).final:
                raise TaskConflict(f"task {task_id} is already {row['status']}")
            now = self._clock.time()
            return self._move(
                db,
                [row],
                TaskStatus.CANCELLED,
                lambda _: {
                    "finished_at": now,
                    "lease_expires_at": None,
                },
            )[0]

    def requeue(self, task_id: str) -> Task:
        with self._write() as db:
            row = _task_row(db, task_id)
            if row["status"] != TaskStatus.DEAD:
                raise TaskConflict(f"task {task_id} is {row['status']}, not in the dead-letter queue")
            now = self._clock.time()
            return self._move(
                db,
                [row],
                TaskStatus.PENDING,
                lambda _: {
                    "attempts": 0,
                    "seq": self._next_seq(),
                    "run_at": now,
                    "worker": None,
                },
            )[0]

    def heartbeat(self, name: str, info: dict[str, Any] | None = None) -> None:
        now = self._clock.time()
        with self._write(durable=False) as db:
            if info is None:
                db.execute(
                    "INSERT INTO workers(name, info, last_seen) VALUES (?, '{}', ?) "
                    "ON CONFLICT(name) DO UPDATE SET last_seen = excluded.last_seen",
                    (name, now),
                )
            else:
                db.execute(
                    "INSERT INTO workers(name, info, last_seen) VALUES (?, ?, ?) ON CONFLICT(name) "
                    "DO UPDATE SET info = excluded.info, last_seen = excluded.last_seen",
                    (name, rows.dump(info), now),
                )

    # --- reads ------------------------------------------------------------------------------------

    def next_ready_at(self, types: Sequence[str]) -> float | None:
        where, args = types_clause(types)
        with self._read() as db:
            row = db.execute(
                f"SELECT MIN(run_at) AS t FROM tasks WHERE status = 'pending' {where}",  # noqa: S608
                args,
            ).fetchone()
            return None if row["t"] is None else float(row["t"])

    def get(self, task_id: str) -> Task:
        with self._read() as db:
            row = _task_row(db, task_id)
        return rows.task(row)

    def result(self, task_id: str) -> Result | None:
        with self._read() as db:
            row = _one(db, "id = ? AND success IS NOT NULL", task_id)
        return None if row is None else rows.result(row)

    def tasks(self, status: TaskStatus, types: Sequence[str] = (), limit: int = 1000) -> list[Task]:
        where, args = types_clause(types)
        order = "priority, seq" if status is TaskStatus.PENDING else "seq"
        with self._read() as db:
            found = db.execute(
                f"SELECT * FROM tasks WHERE status = ? {where} ORDER BY {order} LIMIT ?",  # noqa: S608
                (status.value, *args, limit),
            ).fetchall()
        return [rows.task(row) for row in found]

    def results(self, limit: int) -> list[Result]:
        with self._read() as db:
            found = db.execute(
                "SELECT * FROM tasks WHERE finished_at IS NOT NULL AND success IS NOT NULL "
                "ORDER BY finished_at DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [rows.result(row) for row in found]

    def counts(self) -> Counts:
        with self._read() as db:
            found = db.execute("SELECT status, priority, n FROM counts").fetchall()
        return Counts({(TaskStatus(r["status"]), Priority.from_rank(r["priority"])): r["n"] for r in found})

    def avg_duration_ms(self) -> float:
        with self._read() as db:
            row = db.execute(
                "SELECT AVG(duration_ms) AS a FROM tasks "
                "WHERE finished_at IS NOT NULL AND duration_ms IS NOT NULL"
            ).fetchone()
        return float(row["a"] or 0.0)

    def workers(self) -> list[WorkerRecord]:
        with self._read() as db:
            found = db.execute("SELECT * FROM workers ORDER BY name").fetchall()
        return [WorkerRecord(r["name"], json.loads(r["info"]), float(r["last_seen"])) for r in found]

    def close(self) -> None:
        with self._mutex:
            self._db.close()
            self._lock.release()

    # --- the one place that changes a task's status -------------------------------------------------

    def _move(
        self, db: sqlite3.Connection, found: Sequence[Row], to: TaskStatus, changes: Callable[[Row], Row]
    ) -> list[Task]:
        """Move each row to status `to` with its column `changes`, after checking the transition is legal."""
        if not found:
            return []
        planned = [(row, changes(row)) for row in found]
        for row, _ in planned:
            check_transition(TaskStatus(row["status"]), to)
        columns = list(planned[0][1])
        assignments = "".join(f", {column} = ?" for column in columns)
        updated = db.executemany(
            f"UPDATE tasks SET status = ?{assignments} WHERE id = ? AND status = ?",  # noqa: S608 - our columns
            [(to.value, *(change[c] for c in columns), row["id"], row["status"]) for row, change in planned],
        ).rowcount
        if updated != len(planned):
            raise StoreError(f"{self.path}: {len(planned) - updated} task(s) changed under a transaction")
        moved = [{**row, **change, "status": to.value} for row, change in planned]
        if log.isEnabledFor(logging.DEBUG):
            for row in found:
                log.debug("task %s: %s -> %s", row["id"], row["status"], to)
        return [rows.task(row) for row in moved]

    def _retry(
        self, db: sqlite3.Connection, held: Sequence[Row], delay: Callable[[Row], float], error: str
    ) -> list[Task]:
        """Put leased tasks back at the end of the queue after `delay`, or into the DLQ if out of attempts."""
        now = self._clock.time()
        spent = [row for row in held if row["attempts"] >= row["max_attempts"]]
        again = [row for row in held if row["attempts"] < row["max_attempts"]]
        for row in spent:
            log.warning(
                "task %s (%s): dead-lettered after %d attempts: %s",
                row["id"],
                row["type"],
                row["attempts"],
                error,
            )
        dead = self._move(
            db,
            spent,
            TaskStatus.DEAD,
            lambda _: {
                "lease_expires_at": None,
                "last_error": error,
            },
        )
        requeued = self._move(
            db,
            again,
            TaskStatus.PENDING,
            lambda row: {
                "seq": self._next_seq(),
                "run_at": now + delay(row),
                "worker": None,
                "lease_expires_at": None,
                "last_error": error,
            },
        )
        return dead + requeued

    def _submit_one(self, db: sqlite3.Connection, result: Submission, now: float) -> Outcome:
        row = _one(db, "id = ?", result.task_id)
        if row is None:
            return Outcome(result.task_id, 404, f"no task {result.task_id}")
        status = TaskStatus(row["status"])
        if status.final:
            return Outcome(
                result.task_id, 409, f"task {result.task_id} is already {status}; the first result stands"
            )
        if status is TaskStatus.PENDING and row["attempts"] == 0:
            return Outcome(
                result.task_id, 409, f"task {result.task_id} has not been handed to any worker yet"
            )
        if status is not TaskStatus.LEASED or (result.worker and row["worker"] != result.worker):
            log.warning(
                "task %s: late result from %r accepted (task was %s, held by %r)",
                result.task_id,
                result.worker,
                status,
                row["worker"],
            )
        to = TaskStatus.DONE if result.success else TaskStatus.FAILED
        task = self._move(
            db,
            [row],
            to,
            lambda _: {
                "success": int(result.success),
                "result_data": None if result.data is None else rows.dump(result.data),
                "result_error": result.error,
                "finished_at": now,
                "lease_expires_at": None,
                "worker": result.worker or row["worker"],
                "duration_ms": rows.duration_ms(result.data),
            },
        )[0]
        return Outcome(result.task_id, 200, "Result submitted", task)

    # --- helpers ------------------------------------------------------------------------------------

    def _insert(self, db: sqlite3.Connection, new: NewTask, now: float) -> Row:
        row: Row = {
            "id": str(uuid.uuid4()),
            "type": new.type,
            "data": rows.dump(new.data),
            "priority": new.priority.rank,
            "status": TaskStatus.PENDING.value,
            "seq": self._next_seq(),
            "created_at": now,
            "run_at": now if new.run_at is None else new.run_at,
            "attempts": 0,
            "max_attempts": new.max_attempts or self.policy.max_attempts,
            "idempotency_key": new.idempotency_key,
        }
        db.execute(
            "INSERT INTO tasks(id, type, data, priority, status, seq, created_at, run_at, attempts, "
            "max_attempts, "
            "idempotency_key) VALUES (:id, :type, :data, :priority, :status, :seq, :created_at, :run_at, "
            ":attempts, :max_attempts, :idempotency_key)",
            row,
        )
        return row

    def _next_seq(self) -> int:
        # In memory is safe: the file lock makes this process the database's only writer.
        self._seq += 1
        return self._seq

    def _pending_by_rank(self, db: sqlite3.Connection) -> dict[int, int]:
        found = db.execute(
            "SELECT priority, SUM(n) AS n FROM counts WHERE status = 'pending' GROUP BY priority"
        )
        ahead = {p.rank: 0 for p in Priority}
        ahead.update({r["priority"]: int(r["n"]) for r in found.fetchall()})
        return ahead

    def _position(self, db: sqlite3.Connection, row: Row) -> int:
        if row["status"] != TaskStatus.PENDING:
            return 0
        found = db.execute(
            "SELECT COUNT(*) AS n FROM tasks WHERE status = 'pending' "
            "AND (priority < ? OR (priority = ? AND seq <= ?))",
            (row["priority"], row["priority"], row["seq"]),
        ).fetchone()
        return int(found["n"])

    @contextmanager
    def _write(self, durable: bool = True, deferred: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction. With sync="full", only `durable` ones wait for fsync: losing a lease or
        a heartbeat to a power cut costs nothing (the task is simply handed out again)."""
        with self._mutex, translated(self.path):
            if self._full and durable != self._fsyncing:
                self._db.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
                self._fsyncing = durable
            # Upgrading a deferred read to a write cannot fail here: this process is the only writer.
            self._db.execute("BEGIN" if deferred else "BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._mutex, translated(self.path):
            yield self._db


def _task_row(db: sqlite3.Connection, task_id: str) -> Row:
    """The task's row; TaskNotFound when there is none."""
    row = _one(db, "id = ?", task_id)
    if row is None:
        raise TaskNotFound(f"no task {task_id}")
    return row


def _one(db: sqlite3.Connection, where: str, *args: Any) -> Row | None:
    found: Row | None = db.execute(f"SELECT * FROM tasks WHERE {where}", args).fetchone()  # noqa: S608
    return found
