"""`backup status`: the last run, the newest good snapshot, the next scheduled run, health check 6."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autonomic.backup import catalog
from autonomic.backup.catalog import Snapshot
from autonomic.backup.settings import BackupSettings
from autonomic.workspace import Workspace

TAIL_BYTES = 256 * 1024


@dataclass(frozen=True)
class BackupStatus:
    target: Path
    last_run: dict[str, Any] | None  # the last `backup` event of outputs/backup_log.jsonl
    newest_good: Snapshot | None
    snapshots: int
    disk_bytes: int
    next_run: float | None  # epoch of the next daily run at [backup] at, None when not scheduled
    schedule: dict[str, Any] | None  # the OS registration (autonomic backup schedule status)
    health: dict[str, Any] | None  # health check 6 as `autonomic health` shows it

    def to_dict(self) -> dict[str, Any]:
        good = self.newest_good
        return {
            "target": str(self.target),
            "last_run": self.last_run,
            "newest_good": None
            if good is None
            else {"id": good.id, "created": good.created, "bytes": good.size, "state": good.state.value},
            "snapshots": self.snapshots,
            "disk_bytes": self.disk_bytes,
            "next_run": self.next_run,
            "schedule": self.schedule,
            "health": self.health,
        }


def status(workspace: Workspace, settings: BackupSettings, now: float) -> BackupStatus:
    target = settings.target(workspace.root)
    found = catalog.snapshots(target)
    good = [s for s in found if s.state.good]
    return BackupStatus(
        target=target,
        last_run=last_event(workspace.backup_log, "backup"),
        newest_good=good[-1] if good else None,
        snapshots=len(found),
        disk_bytes=catalog.disk_usage(target),
        next_run=next_run(settings, now) if settings.schedule else None,
        schedule=_schedule(workspace),
        health=_health_check(workspace),
    )


def next_run(settings: BackupSettings, now: float) -> float:
    """The next local `HH:MM` after `now`."""
    here = dt.datetime.fromtimestamp(now).astimezone()
    due = here.replace(hour=settings.hour, minute=settings.minute, second=0, microsecond=0)
    if due <= here:
        due += dt.timedelta(days=1)
    return due.timestamp()


def last_event(log: Path, action: str) -> dict[str, Any] | None:
    """The newest event with this action in a JSONL log (only the tail is read)."""
    try:
        with open(log, "rb") as handle:
            handle.seek(max(0, os.fstat(handle.fileno()).st_size - TAIL_BYTES))
            lines = handle.read().splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if isinstance(event, dict) and event.get("action") == action:
                return event
    return None


def _schedule(workspace: Workspace) -> dict[str, Any] | None:
    try:
        from autonomic.platform.registration import schedule_status
    except ImportError:
        return None
    try:
        return schedule_status(workspace).to_dict()
    except Exception as exc:  # a status line must not fail because the OS query did
        return {"ok": False, "detail": f"cannot read the schedule: {exc}"}


def _health_check(workspace: Workspace) -> dict[str, Any] | None:
    try:
        from autonomic.health.checks import check_backup
        from autonomic.health.context import HealthContext
    except ImportError:
        return None
    try:
        return check_backup(HealthContext.load(workspace)).to_dict()
    except Exception as exc:  # as above
        return {"ok": False, "line": f"health check 6 unavailable: {exc}"}
