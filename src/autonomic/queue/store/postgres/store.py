"""`PostgresStore`: the queue in PostgreSQL, shared by any number of queue servers.

This class is the facade: it parses the URL, opens a bounded connection pool (psycopg_pool), applies
the numbered migrations under an advisory lock, and runs each protocol method as one transaction
over `commands` and `reads`. Every commit that makes a task claimable, stores a result or grants a
lease also notifies the other servers (`listener`), so a long poll on any server wakes at once.

Durability: a method returns after its COMMIT, so an acknowledged task is in the database as the
cluster's own settings make it (synchronous_commit). Times are epoch seconds on each server's clock;
servers sharing a database should keep their clocks in step (NTP), as leases are compared on them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from autonomic.clock import Clock, SystemClock
from autonomic.errors import StoreError, TaskNotFound
from autonomic.queue.store.base import PAGE_MAX, Policy
from autonomic.queue.store.postgres import commands, reads, url
from autonomic.queue.store.postgres.engine import Tx
from autonomic.queue.store.postgres.listener import Handlers, Listener, channel, payloads
from autonomic.queue.store.postgres.schema import migrate
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
from autonomic.queue.store.rows import Row
from autonomic.queue.task import TaskStatus

log = logging.getLogger("autonomic.queue.store")
T = TypeVar("T")
CONNECT_TIMEOUT = 10.0  # seconds to reach the database at start, and to get a pooled connection


class Mode(Enum):
    READ = "read"  # autocommit statements
    QUICK = "quick"  # a transaction committed without waiting for the WAL flush
    DURABLE = "durable"  # a transaction committed to disk before the call returns


class PostgresStore:
    """`Store` on PostgreSQL. Calls cross a network, so the server makes them off its event loop."""

    inline = False

    def __init__(
        self,
        location: str,
        *,
        clock: Clock | None = None,
        policy: Policy | None = None,
        root: Path | None = None,
    ) -> None:
        self.url = url.parse(location, root=root)
        self.policy = policy or Policy()
        self.notices: list[str] = []
        self.origin = uuid.uuid4().hex[:12]  # this store's name in notices, to skip its own
        self._clock = clock or SystemClock()
        self._schema = self.url.schema
        self._channel = channel(self._schema)
        self._listener: Listener | None = None
        self._announced = 0.0  # the lease expiry this store last told the others about
        self.migrated = self._migrate()
        self._pool: ConnectionPool[psycopg.Connection[Row]] = ConnectionPool(
            self.url.conninfo,
            min_size=1,
            max_size=self.url.pool_max,
            kwargs={"row_factory": dict_row, "connect_timeout": int(CONNECT_TIMEOUT), "autocommit": True},
            configure=self._configure,
            timeout=CONNECT_TIMEOUT,
            name=f"autonomic-{self._schema}",
            open=False,
        )
        try:
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT)
        except PoolTimeout:
            self._pool.close()
            raise StoreError(f"{self.url.shown}: cannot reach the queue database") from None

    def __repr__(self) -> str:
        return f"PostgresStore({self.url.shown!r}, schema={self._schema!r})"

    def _migrate(self) -> int:
        try:
            with psycopg.connect(self.url.conninfo, connect_timeout=int(CONNECT_TIMEOUT)) as conn:
                applied = migrate(conn, self._schema)
        except psycopg.Error as exc:
            raise StoreError(f"{self.url.shown}: cannot open the queue database: {_why(exc)}") from None
        if applied:
            log.info("queue schema %r: %d migration(s) applied", self._schema, applied)
        return applied

    def _configure(self, conn: psycopg.Connection[Row]) -> None:
        conn.execute(f'SET search_path TO "{self._schema}"'.encode())
        conn.commit()

    # --- LISTEN/NOTIFY ----------------------------------------------------------------------------

    def listen(
        self, ready: Callable[[], None], result: Callable[[str], None], lease: Callable[[float], None]
    ) -> None:
        """Call these (on a thread of ours) when another server made tasks claimable, stored a result
        or granted a lease. The service passes them to its event loop."""
        if self._listener is None:
            handlers = Handlers(ready, result, lease)
            self._listener = Listener(self.url.conninfo, self._schema, self.origin, handlers, self.url.shown)
            self._listener.start()
            self._listener.connected.wait(CONNECT_TIMEOUT)

    # --- commands ---------------------------------------------------------------------------------

    def create(self, tasks: Sequence[NewTask]) -> list[Created]:
        return self._write(commands.create, tasks)

    def create_and_claim(
        self, tasks: Sequence[NewTask], claims: Sequence[Claim]
    ) -> tuple[list[Created], list[list[TaskRecord]]]:
        return self._write(commands.create_and_claim, tasks, claims)

    def claim(
        self, worker: str, types: Sequence[str], limit: int, lease: float | None = None
    ) -> list[TaskRecord]:
        return self._quick(commands.claim, worker, types, limit, lease)

    def extend(
        self, task_id: str, worker: str, lease: float, attempt: int | None = None
    ) -> TaskRecord | None:
        return self._quick(commands.extend, task_id, worker, lease, attempt)

    def unclaim(self, worker: str, task_ids: Sequence[str]) -> list[TaskRecord]:
        return self._quick(commands.unclaim, worker, task_ids)

    def release(self, task_id: str, worker: str, delay: float = 0.0, error: str | None = None) -> TaskRecord:
        return self._write(commands.release, task_id, worker, delay, error)

    def submit(self, results: Sequence[Submission]) -> list[Outcome]:
        return self._write(commands.submit, results)

    def cancel(self, task_id: str) -> TaskRecord:
        return self._write(commands.cancel, task_id)

    def requeue(self, task_id: str) -> TaskRecord:
        return self._write(commands.requeue, task_id)

    def reclaim_expired(self) -> list[TaskRecord]:
        return self._quick(commands.reclaim_expired)

    # --- retention and the worker registry --------------------------------------------------------

    def evict(self) -> int:
        return self._quick(reads.evict)

    def next_eviction_at(self) -> float | None:
        return self._read(reads.next_eviction_at)

    def heartbeat(self, name: str, info: dict[str, Any] | None = None) -> None:
        self._quick(reads.heartbeat, name, info)

    def claimed(self, name: str, types: Sequence[str]) -> None:
        self._quick(reads.claimed, name, types)

    def workers(self, limit: int = PAGE_MAX, after: str | None = None) -> Page[WorkerRecord]:
        return self._read(reads.workers, limit, after)

    def live_workers(self, since: float) -> int:
        return self._read(reads.live_workers, since)

    # --- reads ------------------------------------------------------------------------------------

    def next_ready_at(self, types: Sequence[str]) -> float | None:
        return self._read(reads.next_ready_at, types)

    def next_expiry(self) -> float | None:
        return self._read(reads.next_expiry)

    def get(self, task_id: str) -> TaskRecord:
        found = self._read(reads.get, task_id)
        if found is None:
            raise TaskNotFound(f"no task {task_id}")
        return found

    def result(self, task_id: str) -> ResultRecord | None:
        return self._read(reads.get_result, task_id)

    def tasks(
        self, status: TaskStatus, types: Sequence[str] = (), limit: int = PAGE_MAX, after: str | None = None
    ) -> Page[TaskRecord]:
        return self._read(reads.tasks, status, types, limit, after)

    def results(self, limit: int, after: str | None = None) -> Page[ResultRecord]:
        return self._read(reads.results, limit, after)

    def counts(self) -> Counts:
        return self._write(reads.counts)

    def avg_duration_ms(self) -> float:
        return self._read(reads.avg_duration_ms)

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self._pool.close()

    # --- transactions -----------------------------------------------------------------------------

    def _write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(tx, *args)` as one transaction, committed durably; its notices go out with the commit."""
        return self._run(fn, args, Mode.DURABLE)

    def _quick(self, fn: Callable[..., T], *args: Any) -> T:
        """A transaction whose loss in a database crash costs nothing but a repeat: a lease, a heartbeat, a
        reclaim (the task is simply handed out again). Its commit does not wait for the WAL flush, as the
        SQLite store's non-durable writes do not wait for fsync."""
        return self._run(fn, args, Mode.QUICK)

    def _read(self, fn: Callable[..., T], *args: Any) -> T:
        """Reads: each statement on its own (autocommit), no BEGIN/COMMIT round trips."""
        return self._run(fn, args, Mode.READ)

    def _run(self, fn: Callable[..., T], args: tuple[Any, ...], mode: Mode) -> T:
        """One call on a pooled connection. A connection the database dropped (a restart, a failover, an
        idle timeout) is replaced and the call made once more, when nothing of it can have happened:
        a read, or a transaction whose BEGIN already failed."""
        for attempt in (1, 2):
            began = False
            conn: psycopg.Connection[Row] | None = None
            try:
                with self._pool.connection() as conn:
                    with conn.transaction() if mode is not Mode.READ else nullcontext():
                        began = True
                        tx = Tx(conn, self._clock.time(), self.policy, self._schema)
                        if mode is Mode.QUICK:
                            conn.execute("SET LOCAL synchronous_commit = off")
                        out = fn(tx, *args)
                        if mode is not Mode.READ:
                            self._notify(tx)
                    return out
            except PoolTimeout:
                raise StoreError(f"{self.url.shown}: no database connection free or reachable") from None
            except psycopg.OperationalError as exc:
                if attempt == 1 and (mode is Mode.READ or not began) and conn is not None and conn.broken:
                    log.info(
                        "queue store %s: a connection was lost (%s); trying another",
                        self.url.shown,
                        _why(exc),
                    )
                    continue
                raise StoreError(f"{self.url.shown}: queue database error: {_why(exc)}") from None
            except psycopg.Error as exc:
                raise StoreError(f"{self.url.shown}: queue database error: {_why(exc)}") from None
        raise AssertionError("unreachable")

    def _notify(self, tx: Tx) -> None:
        lease = None
        if tx.lease_until is not None and (tx.lease_until < self._announced or self._announced <= tx.now):
            # Only a lease ending before the last one announced changes another server's plan: the
            # others re-read the nearest expiry from the database on their next timer pass.
            lease = self._announced = tx.lease_until
        for payload in payloads(self.origin, tx.ready, tx.results, lease):
            tx.conn.execute("SELECT pg_notify(%s, %s)", (self._channel, payload))


def _why(exc: psycopg.Error) -> str:
    """The driver's message on one line, without anything that could hold the password."""
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__


def open_postgres(location: str, *, root: Path, clock: Clock | None, policy: Policy | None) -> PostgresStore:
    """The store for `[queue] store = "postgresql://…"` (what `autonomic.queue.store.open_store` calls)."""
    return PostgresStore(location, clock=clock, policy=policy, root=root)
