"""Which snapshots to keep: the last `keep_days` days, optionally the newest of each of `keep_daily` more
days and `keep_weekly` more weeks, and always the newest good and the newest verified snapshot.

Folders without a readable manifest are not recognised as ours and are never deleted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from autonomic.backup.catalog import PARTIAL_PREFIX, Snapshot, SnapshotState
from autonomic.backup.settings import BackupSettings

DAY = 86400.0


@dataclass
class Decision:
    snapshot: Snapshot
    reasons: list[str] = field(default_factory=list)

    @property
    def keep(self) -> bool:
        return bool(self.reasons)


def decide(snapshots: list[Snapshot], settings: BackupSettings, now: float) -> list[Decision]:
    """One decision per snapshot (oldest first); a snapshot with no reason to keep it is deleted."""
    decisions = [Decision(s) for s in snapshots]
    ours = [d for d in decisions if d.snapshot.created is not None]
    for decision in decisions:
        if decision.snapshot.created is None:
            decision.reasons.append("no readable manifest: not recognised, left alone")
    horizon = now - settings.keep_days * DAY
    for decision in ours:
        if _created(decision) >= horizon:
            decision.reasons.append(f"within {settings.keep_days} days")
    if settings.keep_daily:
        _newest_per(ours, settings.keep_daily, _day, "newest of its day")
    if settings.keep_weekly:
        _newest_per(ours, settings.keep_weekly, _week, "newest of its week")
    _protect(ours, lambda s: s.state.good, "newest good snapshot")
    _protect(ours, lambda s: s.state is SnapshotState.VERIFIED, "newest verified snapshot")
    return decisions


def delete(snapshot: Snapshot) -> None:
    """Remove a snapshot: first renamed out of sight, so an interrupted delete never leaves half of one."""
    doomed = snapshot.path.with_name(f"{PARTIAL_PREFIX}deleting-{snapshot.id}")
    os.rename(snapshot.path, doomed)
    with contextlib.suppress(OSError):
        shutil.rmtree(doomed)


def _created(decision: Decision) -> float:
    created = decision.snapshot.created
    assert created is not None
    return created


def _day(decision: Decision) -> Hashable:
    return time.strftime("%Y-%m-%d", time.localtime(_created(decision)))


def _week(decision: Decision) -> Hashable:
    year, week, _ = dt.date.fromtimestamp(_created(decision)).isocalendar()  # %G/%V are not portable
    return year, week


def _newest_per(
    decisions: list[Decision], count: int, bucket: Callable[[Decision], Hashable], why: str
) -> None:
    """Keep the newest good snapshot of each of the `count` most recent buckets that have one."""
    seen: set[Hashable] = set()
    for decision in sorted(decisions, key=_created, reverse=True):
        if not decision.snapshot.state.good:
            continue
        key = bucket(decision)
        if key in seen:
            continue
        if len(seen) == count:
            return
        seen.add(key)
        decision.reasons.append(why)


def _protect(decisions: list[Decision], wanted: Callable[[Snapshot], bool], why: str) -> None:
    for decision in sorted(decisions, key=_created, reverse=True):
        if wanted(decision.snapshot):
            decision.reasons.append(why)
            return
