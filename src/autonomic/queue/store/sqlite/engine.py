"""The transition engine: the one place that changes a task's status, checked against `TRANSITIONS`.

Every command runs in a `Tx`: the connection inside an open transaction, the store's `now` for that
transaction, its policy, and the claim-order sequence (`seq`) a task gets whenever it joins the back
of the queue.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autonomic.errors import StoreError, TaskNotFound
from autonomic.queue.store import rules
from autonomic.queue.store.base import Policy
from autonomic.queue.store.records import TaskRecord
from autonomic.queue.store.sqlite import rows
from autonomic.queue.store.sqlite.rows import Row
from autonomic.queue.task import TaskStatus, check_transition

log = logging.getLogger("autonomic.queue.store")


class SeqCounter:
    """The next `seq`: kept in memory, which is safe because the file lock makes us the only writer."""

    def __init__(self, last: int) -> None:
        self.last = last

    def next(self) -> int:
        self.last += 1
        return self.last


@dataclass
class Tx:
    db: sqlite3.Connection
    now: float
    policy: Policy
    seq: SeqCounter
    path: Path

    def one(self, where: str, *args: Any) -> Row | None:
        found: Row | None = self.db.execute(f"SELECT * FROM tasks WHERE {where}", args).fetchone()  # noqa: S608
        return found

    def task_row(self, task_id: str) -> Row:
        """The task's row; `TaskNotFound` when there is none."""
        row = self.one("id = ?", task_id)
        if row is None:
            raise TaskNotFound(f"no task {task_id}")
        return row

    def move(self, found: Sequence[Row], to: TaskStatus, changes: Callable[[Row], Row]) -> list[TaskRecord]:
        """Move each row to status `to` with its column `changes`, after checking the transition is legal."""
        if not found:
            return []
        planned = [(row, changes(row)) for row in found]
        for row, _ in planned:
            check_transition(TaskStatus(row["status"]), to)
        columns = list(planned[0][1])
        assignments = "".join(f", {column} = ?" for column in columns)
        sql = f"UPDATE tasks SET status = ?{assignments} WHERE id = ? AND status = ?"  # noqa: S608 - our columns
        values = [
            (to.value, *(change[c] for c in columns), row["id"], row["status"]) for row, change in planned
        ]
        # One row (a claim of one task, a result) is the common case: execute costs half of executemany.
        cursor = self.db.execute(sql, values[0]) if len(values) == 1 else self.db.executemany(sql, values)
        updated = cursor.rowcount
        if updated != len(planned):
            raise StoreError(f"{self.path}: {len(planned) - updated} task(s) changed under a transaction")
        if log.isEnabledFor(logging.DEBUG):
            for row in found:
                log.debug("task %s: %s -> %s", row["id"], row["status"], to)
        return [rows.task({**row, **change, "status": to.value}) for row, change in planned]

    def retry(self, held: Sequence[Row], delay: Callable[[Row], float], error: str) -> list[TaskRecord]:
        """Put leased tasks back at the end of the queue after `delay`, or into the DLQ if out of attempts."""
        spent, again = rules.out_of_attempts(held, error)
        dead = self.move(spent, TaskStatus.DEAD, lambda _: rules.dead_lettered(self.now, error))
        requeued = self.move(
            again,
            TaskStatus.PENDING,
            lambda row: {"seq": self.seq.next(), **rules.retried(self.now + delay(row), error)},
        )
        return dead + requeued
