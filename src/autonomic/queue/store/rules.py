"""What every store backend decides the same way, whatever its SQL: page bounds and cursors, which
leased task a worker may hand back, what a hand-back resets, and what a claim teaches the worker registry.

The backends (`sqlite/`, `postgres/`) keep only their statements; the decisions are made here once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from autonomic.errors import TaskConflict
from autonomic.queue.store.base import PAGE_MAX
from autonomic.queue.store.records import BadCursor
from autonomic.queue.task import TaskStatus

Row = dict[str, Any]
log = logging.getLogger("autonomic.queue.store")

MAX_TYPES = 200  # the most types remembered for a worker known only from its claims


# --- pages ----------------------------------------------------------------------------------------


def bounded(limit: int) -> int:
    """A page size within 0..PAGE_MAX."""
    return max(0, min(limit, PAGE_MAX))


def task_cursor(after: str, prefix: str, parts: int) -> tuple[int, ...]:
    """The integers of a task listing's cursor `<status>:<n>[:<n>]`."""
    head, _, rest = after.partition(":")
    values = rest.split(":")
    if head != prefix or len(values) != parts or not all(v.lstrip("-").isdigit() for v in values):
        raise BadCursor(f"cursor {after!r} does not belong to this listing of {prefix} tasks")
    return tuple(int(v) for v in values)


def result_cursor(after: str) -> tuple[float, int]:
    """(finished_at, seq) of a results listing's cursor `r:<finished>:<seq>`."""
    head, _, rest = after.partition(":")
    finished, _, seq = rest.rpartition(":")
    try:
        if head != "r":
            raise ValueError(head)
        return float(finished), int(seq)
    except ValueError:
        raise BadCursor(f"cursor {after!r} does not belong to the results listing") from None


def worker_cursor(after: str | None) -> str:
    """The name a workers listing continues after (`w:<name>`; "" from the start)."""
    if after is None:
        return ""
    if not after.startswith("w:"):
        raise BadCursor(f"cursor {after!r} does not belong to the workers listing")
    return after[2:]


def next_worker_cursor(found: Sequence[Row], limit: int) -> str | None:
    """The cursor after a page of `limit` workers, read with one extra row to know whether more follow."""
    return f"w:{found[limit - 1]['name']}" if len(found) > limit else None


# --- handing tasks back ---------------------------------------------------------------------------


def check_release(row: Row, task_id: str, worker: str) -> None:
    """Only the worker holding a task's lease may release it."""
    if row["status"] != TaskStatus.LEASED:
        raise TaskConflict(f"task {task_id} is {row['status']}, not leased: nothing to release")
    if row["worker"] != worker:
        raise TaskConflict(f"task {task_id} is leased by {row['worker']!r}, not {worker!r}")


def check_cancellable(row: Row, task_id: str) -> None:
    """A task can be cancelled until it is final (done, failed, dead or cancelled)."""
    if TaskStatus(row["status"]).final:
        raise TaskConflict(f"task {task_id} is already {row['status']}")


def check_requeueable(row: Row, task_id: str) -> None:
    """Only a dead-lettered task can be put back in the queue by hand."""
    if row["status"] != TaskStatus.DEAD:
        raise TaskConflict(f"task {task_id} is {row['status']}, not in the dead-letter queue")


def out_of_attempts(held: Sequence[Row], error: str) -> tuple[list[Row], list[Row]]:
    """Leased tasks going back after `error`: (those out of attempts, for the DLQ; those to retry).
    The dead-lettered ones are logged here."""
    spent = [row for row in held if row["attempts"] >= row["max_attempts"]]
    for row in spent:
        log.warning(
            "task %s (%s): dead-lettered after %d attempts: %s",
            row["id"],
            row["type"],
            row["attempts"],
            error,
        )
    return spent, [row for row in held if row["attempts"] < row["max_attempts"]]


def dead_lettered(now: float, error: str) -> Row:
    """What a task out of attempts gets: its finished_at is when it died (retention evicts it like a
    finished one)."""
    return {"finished_at": now, "lease_expires_at": None, "last_error": error}


def retried(run_at: float, error: str) -> Row:
    """What a task going back to the queue gets (plus the backend's new `seq`: the back of the queue)."""
    return {"run_at": run_at, "worker": None, "lease_expires_at": None, "last_error": error}


def log_expired(expired: Sequence[Row]) -> None:
    for row in expired:
        log.warning(
            "task %s (%s): lease of worker %r expired after attempt %d",
            row["id"],
            row["type"],
            row["worker"],
            row["attempts"],
        )


def unclaimed(row: Row) -> Row:
    """What a task handed back unstarted (a hung-up long poll, a worker's reserve) gets: not an attempt."""
    return {"attempts": row["attempts"] - 1, "worker": None, "leased_at": None, "lease_expires_at": None}


# --- the worker registry --------------------------------------------------------------------------


def claims_info(known: dict[str, Any] | None, types: Sequence[str]) -> dict[str, Any] | None:
    """What a claim teaches the registry about a worker: None when nothing new (only its last_seen moves).
    A worker that never sent a heartbeat is listed with what it claims (`{"via": "claims", "types": […]}`,
    no types meaning every type); a heartbeat's info is kept as sent."""
    if known is None:
        return {"via": "claims", **({"types": sorted(set(types))[:MAX_TYPES]} if types else {})}
    if known.get("via") != "claims" or "types" not in known:
        return None
    if not types:
        return {"via": "claims"}  # it now claims every type
    merged = sorted(set(known["types"]) | set(types))[:MAX_TYPES]
    return None if merged == known["types"] else {"via": "claims", "types": merged}
