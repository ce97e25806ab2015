"""The transition engine on PostgreSQL: the one place that changes a task's status, checked against
`TRANSITIONS`, on rows this transaction has locked (`FOR UPDATE`), so no other server changes them
between the check and the write.

Every command runs in a `Tx`: a pooled connection inside an open transaction, the store's `now` for
it, its policy, and the notices to send the other servers when it commits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from autonomic.errors import StoreError, TaskNotFound
from autonomic.queue.store import rules
from autonomic.queue.store.base import Policy
from autonomic.queue.store.records import TaskRecord
from autonomic.queue.store.rows import Row, task
from autonomic.queue.task import TaskStatus, check_transition

log = logging.getLogger("autonomic.queue.store")

NEXT_SEQ = "nextval('task_seq')"


@dataclass
class Tx:
    conn: psycopg.Connection[Row]
    now: float
    policy: Policy
    schema: str
    ready: bool = False  # tasks became claimable: wake the other servers' long polls
    results: list[str] = field(default_factory=list)  # tasks whose result was stored
    lease_until: float | None = None  # the earliest lease this transaction granted

    def rows(self, sql: str, *args: Any) -> list[Row]:
        return self.conn.execute(sql, args).fetchall()

    def row(self, sql: str, *args: Any) -> Row | None:
        return self.conn.execute(sql, args).fetchone()

    def value(self, sql: str, *args: Any) -> Any:
        found = self.conn.execute(sql, args).fetchone()
        return None if found is None else next(iter(found.values()))

    def locked(self, task_id: str) -> Row | None:
        return self.row("SELECT * FROM tasks WHERE id = %s FOR UPDATE", task_id)

    def task_row(self, task_id: str) -> Row:
        """The task's row, locked; `TaskNotFound` when there is none."""
        found = self.locked(task_id)
        if found is None:
            raise TaskNotFound(f"no task {task_id}")
        return found

    def move(self, found: Sequence[Row], to: TaskStatus, changes: Callable[[Row], Row]) -> list[TaskRecord]:
        """Move each locked row to status `to` with its column `changes`, after checking the transition."""
        if not found:
            return []
        planned = [(row, changes(row)) for row in found]
        for row, _ in planned:
            check_transition(TaskStatus(row["status"]), to)
        columns = list(planned[0][1])
        sets = "".join(f", {column} = {NEXT_SEQ if column == 'seq' else '%s'}" for column in columns)
        values = [c for c in columns if c != "seq"]
        moved: list[TaskRecord] = []
        with self.conn.cursor() as cur:
            cur.executemany(
                f"UPDATE tasks SET status = %s{sets} WHERE id = %s AND status = %s RETURNING *",  # noqa: S608
                [
                    (to.value, *(change[c] for c in values), row["id"], row["status"])
                    for row, change in planned
                ],
                returning=True,
            )
            while True:
                after = cur.fetchone()
                if after is None:
                    raise StoreError("a task changed under a transaction that held its lock")
                moved.append(task(after))
                if not cur.nextset():
                    break
        if len(moved) != len(planned):
            raise StoreError(f"{len(planned) - len(moved)} task(s) changed under a transaction")
        if to is TaskStatus.PENDING:
            self.ready = True
        if log.isEnabledFor(logging.DEBUG):
            for row in found:
                log.debug("task %s: %s -> %s", row["id"], row["status"], to)
        return moved

    def retry(self, held: Sequence[Row], delay: Callable[[Row], float], error: str) -> list[TaskRecord]:
        """Put leased tasks back at the end of the queue after `delay`, or into the DLQ if out of attempts."""
        spent, again = rules.out_of_attempts(held, error)
        dead = self.move(spent, TaskStatus.DEAD, lambda _: rules.dead_lettered(self.now, error))
        requeued = self.move(
            again,
            TaskStatus.PENDING,
            lambda row: {"seq": None, **rules.retried(self.now + delay(row), error)},  # seq: NEXT_SEQ
        )
        return dead + requeued
