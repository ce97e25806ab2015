"""The worker registry: who was heard from, when, and what it said about itself."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from autonomic.queue.store.base import PAGE_MAX
from autonomic.queue.store.records import BadCursor, Page, WorkerRecord
from autonomic.queue.store.sqlite import rows
from autonomic.queue.store.sqlite.engine import Tx

MAX_TYPES = 200  # the most types remembered for a worker known only from its claims


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
    info: dict[str, Any] | None = None
    if row is None:
        info = {"via": "claims", **({"types": sorted(set(types))} if types else {})}
    else:
        known = json.loads(row["info"])
        if known.get("via") == "claims" and "types" in known:
            merged = sorted(set(known["types"]) | set(types))[:MAX_TYPES] if types else None
            if merged is None:
                info = {"via": "claims"}  # it now claims every type
            elif merged != known["types"]:
                info = {"via": "claims", "types": merged}
    if info is None:
        tx.db.execute("UPDATE workers SET last_seen = ? WHERE name = ?", (tx.now, name))
    else:
        heartbeat(tx, name, info)


def workers(tx: Tx, limit: int, after: str | None) -> Page[WorkerRecord]:
    """By name, from the cursor `w:<name>` on."""
    limit = max(0, min(limit, PAGE_MAX))
    if limit == 0:
        return Page([], None)
    if after is not None and not after.startswith("w:"):
        raise BadCursor(f"cursor {after!r} does not belong to the workers listing")
    found = tx.db.execute(
        "SELECT * FROM workers WHERE name > ? ORDER BY name LIMIT ?", (after[2:] if after else "", limit + 1)
    ).fetchall()
    following = f"w:{found[limit - 1]['name']}" if len(found) > limit else None
    return Page([rows.worker(r) for r in found[:limit]], following)


def live_workers(tx: Tx, since: float) -> int:
    return int(
        tx.db.execute("SELECT COUNT(*) AS n FROM workers WHERE last_seen >= ?", (since,)).fetchone()["n"]
    )
