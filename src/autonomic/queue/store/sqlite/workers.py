"""The worker registry: who was heard from, when, and what it said about itself."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from autonomic.queue.store import rules
from autonomic.queue.store.records import Page, WorkerRecord
from autonomic.queue.store.sqlite import rows
from autonomic.queue.store.sqlite.engine import Tx


def heartbeat(tx: Tx, name: str, info: dict[str, Any] | None) -> None:
    if info is None:
        tx.db.execute(
            "INSERT INTO workers(name, info, last_seen) VALUES (?, '{}', ?) "
            "ON CONFLICT(name) DO UPDATE SET last_seen = excluded.last_seen",
            (name, tx.now),
        )
    else:
        tx.db.execute(
            "INSERT INTO workers(name, info, last_seen) VALUES (?, ?, ?) ON CONFLICT(name) "
            "DO UPDATE SET info = excluded.info, last_seen = excluded.last_seen",
            (name, rows.dump(info), tx.now),
        )


def claimed(tx: Tx, name: str, types: Sequence[str]) -> None:
    """A claim is a sign of life. A worker that never sent a heartbeat is listed with what it claims
    (`{"via": "claims", "types": [...]}`, no types meaning every type); a heartbeat's info is kept."""
    row = tx.db.execute("SELECT info FROM workers WHERE name = ?", (name,)).fetchone()
    info = rules.claims_info(None if row is None else json.loads(row["info"]), types)
    if info is None:
        tx.db.execute("UPDATE workers SET last_seen = ? WHERE name = ?", (tx.now, name))
    else:
        heartbeat(tx, name, info)


def workers(tx: Tx, limit: int, after: str | None) -> Page[WorkerRecord]:
    """By name, from the cursor `w:<name>` on."""
    limit = rules.bounded(limit)
    if limit == 0:
        return Page([], None)
    found = tx.db.execute(
        "SELECT * FROM workers WHERE name > ? ORDER BY name LIMIT ?", (rules.worker_cursor(after), limit + 1)
    ).fetchall()
    return Page([rows.worker(r) for r in found[:limit]], rules.next_worker_cursor(found, limit))


def live_workers(tx: Tx, since: float) -> int:
    return int(
        tx.db.execute("SELECT COUNT(*) AS n FROM workers WHERE last_seen >= ?", (since,)).fetchone()["n"]
    )
