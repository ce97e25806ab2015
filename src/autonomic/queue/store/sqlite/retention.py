"""Retention: finished and dead-lettered tasks beyond the policy's age and count bounds go, and so do
workers silent for long. `next_eviction_at` tells the server when to come back, so it need not poll."""

from __future__ import annotations

from autonomic.queue.store.sqlite.engine import Tx

FINISHED = "status IN ('done', 'failed', 'cancelled')"


def evict(tx: Tx) -> int:
    """Drop what the policy no longer keeps; the number of tasks removed."""
    policy = tx.policy
    removed = tx.db.execute(
        f"DELETE FROM tasks WHERE finished_at < ? AND {FINISHED}",  # noqa: S608 - fixed SQL
        (tx.now - policy.results_max_age,),
    ).rowcount
    removed += tx.db.execute(
        "DELETE FROM tasks WHERE finished_at < ? AND status = 'dead'", (tx.now - policy.dead_age,)
    ).rowcount
    # The count bound keeps the newest results_max_count finished or dead tasks.
    cutoff = tx.db.execute(
        "SELECT finished_at FROM tasks WHERE finished_at IS NOT NULL "
        "ORDER BY finished_at DESC LIMIT 1 OFFSET ?",
        (policy.results_max_count - 1,),
    ).fetchone()
    if cutoff is not None:
        removed += tx.db.execute(
            "DELETE FROM tasks WHERE finished_at IS NOT NULL AND finished_at < ?", (cutoff["finished_at"],)
        ).rowcount
    tx.db.execute("DELETE FROM workers WHERE last_seen < ?", (tx.now - policy.forget_workers_after,))
    return removed


def next_eviction_at(tx: Tx) -> float | None:
    """When the oldest finished or dead task passes its age bound, or a worker is to be forgotten."""
    policy = tx.policy
    due: list[float] = []
    oldest = tx.db.execute(
        f"SELECT MIN(finished_at) AS t FROM tasks WHERE finished_at IS NOT NULL AND {FINISHED}"  # noqa: S608
    ).fetchone()["t"]
    if oldest is not None:
        due.append(oldest + policy.results_max_age)
    dead = tx.db.execute("SELECT MIN(finished_at) AS t FROM tasks WHERE status = 'dead'").fetchone()["t"]
    if dead is not None:
        due.append(dead + policy.dead_age)
    seen = tx.db.execute("SELECT MIN(last_seen) AS t FROM workers").fetchone()["t"]
    if seen is not None:
        due.append(seen + policy.forget_workers_after)
    return min(due) if due else None
