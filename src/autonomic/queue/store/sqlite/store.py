"""`SqliteStore`: the default store, one SQLite file in WAL mode owned by one queue server at a time.

This class is the facade: it opens the file (lock, WAL check, quick_check, schema), and runs each
protocol method as one transaction over the modules that do the work — `commands` (task commands),
`reads` (lookups and pages), `engine` (the transition engine), `retention`, `workers` (the registry).

Durability: every method commits before it returns, so a task is on disk before the server
acknowledges it. With `sync="full"` each commit is fsynced (survives a power cut); with "normal" the
WAL is fsynced at checkpoints only, which still survives the kill -9 of any process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from autonomic.clock import Clock, SystemClock
from autonomic.queue.store import rules
from autonomic.queue.store.base import PAGE_MAX, Policy
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
from autonomic.queue.store.sqlite import commands, integrity, reads, retention, rows, workers
from autonomic.queue.store.sqlite.connection import connect, exclusive, translated
from autonomic.queue.store.sqlite.engine import SeqCounter, Tx
from autonomic.queue.task import TaskStatus

log = logging.getLogger("autonomic.queue.store")


class SqliteStore:
    """`Store` on a SQLite file. Calls are short local transactions, safe to make on an event loop."""

    inline = True

    def __init__(
        self,
        path: Path,
        *,
        clock: Clock | None = None,
        policy: Policy | None = None,
        sync: str = "normal",
        check_budget: float = integrity.CHECK_BUDGET,
    ) -> None:
        self.path = path
        self.policy = policy or Policy()
        self.notices: list[str] = []  # what the opening found that a person should hear about
        self._clock = clock or SystemClock()
        self._mutex = threading.RLock()
        self._full = self._fsyncing = sync == "full"
        self._lock = exclusive(path)
        try:
            self._check(check_budget)
            self._db = connect(path, sync)
            last = self._db.execute("SELECT COALESCE(MAX(seq), 0) AS s FROM tasks").fetchone()["s"]
            self._seq = SeqCounter(int(last))
        except BaseException:
            self._lock.release()
            raise

    def _check(self, budget: float) -> None:
        """Before SQLite's recovery runs: report a WAL it would partly discard; refuse a damaged file."""
        damage = integrity.inspect_wal(self.path)
        if damage is not None:
            try:
                kept: Path | None = integrity.keep_aside(self.path)
            except OSError:
                kept = None
            notice = integrity.WalDamage(damage.reason, damage.lost_frames, damage.lost_bytes, kept)
            self.notices.append(notice.describe(integrity.wal_path(self.path)))
            log.error("%s", self.notices[-1])
        problem = integrity.quick_check(self.path, budget)
        if problem is not None:
            raise integrity.refuse_damaged(self.path, problem)

    # --- commands ---------------------------------------------------------------------------------

    def create(self, tasks: Sequence[NewTask]) -> list[Created]:
        with self._write() as tx:
            return commands.create(tx, tasks)

    def create_and_claim(
        self, tasks: Sequence[NewTask], claims: Sequence[Claim]
    ) -> tuple[list[Created], list[list[TaskRecord]]]:
        with self._write() as tx:
            return commands.create_and_claim(tx, tasks, claims)

    def claim(
        self, worker: str, types: Sequence[str], limit: int, lease: float | None = None
    ) -> list[TaskRecord]:
        # Deferred: an empty queue (the long-poll case) costs a read, not a write lock and a commit.
        with self._write(durable=False, deferred=True) as tx:
            return commands.claim(tx, worker, types, limit, lease)

    def extend(
        self, task_id: str, worker: str, lease: float, attempt: int | None = None
    ) -> TaskRecord | None:
        with self._write(durable=False) as tx:
            return commands.extend(tx, task_id, worker, lease, attempt)

    def unclaim(self, worker: str, task_ids: Sequence[str]) -> list[TaskRecord]:
        with self._write(durable=False) as tx:
            return commands.unclaim(tx, worker, task_ids)

    def release(self, task_id: str, worker: str, delay: float = 0.0, error: str | None = None) -> TaskRecord:
        with self._write() as tx:
            return commands.release(tx, task_id, worker, delay, error)

    def submit(self, results: Sequence[Submission]) -> list[Outcome]:
        with self._write() as tx:
            return [commands.submit(tx, result) for result in results]

    def cancel(self, task_id: str) -> TaskRecord:
        with self._write() as tx:
            return commands.cancel(tx, task_id)

    def requeue(self, task_id: str) -> TaskRecord:
        with self._write() as tx:
            return commands.requeue(tx, task_id)

    def reclaim_expired(self) -> list[TaskRecord]:
        with self._write(durable=False) as tx:
            expired = tx.db.execute(
                "SELECT * FROM tasks WHERE status = 'leased' AND lease_expires_at <= ? "
                "ORDER BY lease_expires_at",
                (tx.now,),
            ).fetchall()
            rules.log_expired(expired)
            return tx.retry(expired, lambda row: self.policy.backoff(row["attempts"]), "lease expired")

    # --- retention and the worker registry --------------------------------------------------------

    def evict(self) -> int:
        with self._write(durable=False) as tx:
            return retention.evict(tx)

    def next_eviction_at(self) -> float | None:
        with self._read() as tx:
            return retention.next_eviction_at(tx)

    def heartbeat(self, name: str, info: dict[str, Any] | None = None) -> None:
        with self._write(durable=False) as tx:
            workers.heartbeat(tx, name, info)

    def claimed(self, name: str, types: Sequence[str]) -> None:
        with self._write(durable=False) as tx:
            workers.claimed(tx, name, types)

    def workers(self, limit: int = PAGE_MAX, after: str | None = None) -> Page[WorkerRecord]:
        with self._read() as tx:
            return workers.workers(tx, limit, after)

    def live_workers(self, since: float) -> int:
        with self._read() as tx:
            return workers.live_workers(tx, since)

    # --- reads ------------------------------------------------------------------------------------

    def next_ready_at(self, types: Sequence[str]) -> float | None:
        with self._read() as tx:
            return reads.next_ready_at(tx.db, types)

    def next_expiry(self) -> float | None:
        with self._read() as tx:
            return reads.next_expiry(tx.db)

    def get(self, task_id: str) -> TaskRecord:
        with self._read() as tx:
            return rows.task(tx.task_row(task_id))

    def result(self, task_id: str) -> ResultRecord | None:
        with self._read() as tx:
            return reads.result(tx.db, task_id)

    def tasks(
        self, status: TaskStatus, types: Sequence[str] = (), limit: int = PAGE_MAX, after: str | None = None
    ) -> Page[TaskRecord]:
        with self._read() as tx:
            return reads.tasks(tx.db, status, types, limit, after)

    def results(self, limit: int, after: str | None = None) -> Page[ResultRecord]:
        with self._read() as tx:
            return reads.results(tx.db, limit, after)

    def counts(self) -> Counts:
        with self._read() as tx:
            return reads.counts(tx.db)

    def avg_duration_ms(self) -> float:
        with self._read() as tx:
            return reads.avg_duration_ms(tx.db)

    def close(self) -> None:
        with self._mutex:
            self._db.close()
            self._lock.release()

    # --- transactions -----------------------------------------------------------------------------

    @contextmanager
    def _write(self, durable: bool = True, deferred: bool = False) -> Iterator[Tx]:
        """One write transaction. With sync="full", only `durable` ones wait for fsync: losing a lease or
        a heartbeat to a power cut costs nothing (the task is simply handed out again)."""
        with self._mutex, translated(self.path):
            db = self._db
            if self._full and durable != self._fsyncing:
                db.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
                self._fsyncing = durable
            # Upgrading a deferred read to a write cannot fail here: this process is the only writer.
            db.execute("BEGIN" if deferred else "BEGIN IMMEDIATE")
            try:
                yield Tx(db, self._clock.time(), self.policy, self._seq, self.path)
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[Tx]:
        with self._mutex, translated(self.path):
            yield Tx(self._db, self._clock.time(), self.policy, self._seq, self.path)
