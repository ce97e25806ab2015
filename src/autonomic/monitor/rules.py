"""The alert conditions: which problems a sample shows, as `Condition`s keyed so that one problem keeps
one key while it lasts. The original's thresholds (ORIGIN_API) plus system ones; see `AlertSettings`.

Rates and averages are over the last hour's results, and need a handful of them (`MIN_RESULTS`): one
failed task out of one is not a 100 % error rate worth waking anyone for.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from autonomic.errors import AutonomicError
from autonomic.monitor.settings import AlertSettings

MIN_RESULTS = 5
HOUR = 3600.0


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True)
class Condition:
    key: str  # e.g. "service_fatal:web"; the same problem keeps the same key
    severity: Severity
    message: str
    immediate: bool = False  # the condition carries its own duration; no extra `for` hold


BackupAge = Callable[[float], float | None]


class Rules:
    """Evaluates a sample against the thresholds, remembering the short histories some rules need."""

    def __init__(self, settings: AlertSettings, backup_age: BackupAge | None = None) -> None:
        self.settings = settings
        self.backup_age = backup_age
        self._pending: deque[tuple[float, int]] = deque()
        self._restarts: dict[str, deque[tuple[float, int]]] = {}

    def evaluate(self, sample: dict[str, Any]) -> list[Condition]:
        now = float(sample["ts"])
        found: list[Condition] = []
        found += self._system(sample.get("system", {}))
        found += self._services(now, sample)
        found += self._queue(now, sample.get("queue", {}))
        found += self._backup(now)
        return found

    def _system(self, system: dict[str, Any]) -> list[Condition]:
        found = []
        disk = system.get("disk", {}).get("percent")
        if disk is not None and disk > self.settings.disk_percent:
            found.append(
                Condition(
                    "disk_full", Severity.WARNING, f"disk {disk:.0f}% full ({system['disk'].get('path')})"
                )
            )
        memory = system.get("memory", {}).get("percent")
        if memory is not None and memory > self.settings.memory_percent:
            found.append(Condition("memory_high", Severity.WARNING, f"memory {memory:.0f}% used"))
        return found

    def _services(self, now: float, sample: dict[str, Any]) -> list[Condition]:
        orchestrator = sample.get("orchestrator", {})
        if not orchestrator.get("reachable"):
            reason = orchestrator.get("error") or "unreachable"
            return [Condition("orchestrator_unreachable", Severity.CRITICAL, f"orchestrator: {reason}")]
        found = []
        for service in sample.get("services", []):
            name = service["name"]
            if service.get("state") == "fatal":
                found.append(
                    Condition(
                        f"service_fatal:{name}",
                        Severity.CRITICAL,
                        f"{name} is fatal: {service.get('detail', '')}",
                    )
                )
            restarts = self._restarts_in_hour(now, name, int(service.get("restarts", 0)))
            if restarts > self.settings.restarts_per_hour:
                found.append(
                    Condition(
                        f"service_flapping:{name}",
                        Severity.WARNING,
                        f"{name} restarted {restarts} times in the last hour",
                        immediate=True,
                    )
                )
        return found

    def _restarts_in_hour(self, now: float, name: str, total: int) -> int:
        """Restarts within the last hour; a counter that went down (orchestrator restart) starts over."""
        history = self._restarts.setdefault(name, deque())
        if history and total < history[-1][1]:
            history.clear()
        history.append((now, total))
        while len(history) > 1 and history[1][0] <= now - HOUR:
            history.popleft()
        return total - history[0][1]

    def _queue(self, now: float, queue: dict[str, Any]) -> list[Condition]:
        if not queue.get("reachable"):
            if queue.get("error") == "disabled":
                return []
            return [Condition("queue_unreachable", Severity.WARNING, f"queue: {queue.get('error')}")]
        found = self._results(queue.get("by_type", {}))
        pending, workers = int(queue.get("pending", 0)), int(queue.get("workers", 0))
        if pending > 0 and workers == 0:
            found.append(
                Condition("no_workers", Severity.CRITICAL, f"no live worker while {pending} tasks wait")
            )
        if pending > self.settings.queue_size:
            found.append(
                Condition(
                    "queue_size", Severity.INFO, f"{pending} tasks pending (> {self.settings.queue_size})"
                )
            )
        if self._backlog_growing(now, pending):
            minutes = self.settings.backlog_growing / 60
            found.append(
                Condition(
                    "backlog_growing",
                    Severity.WARNING,
                    f"backlog grew for {minutes:g} min to {pending}",
                    immediate=True,
                )
            )
        return found

    def _results(self, by_type: dict[str, dict[str, Any]]) -> list[Condition]:
        count = sum(int(t.get("count", 0)) for t in by_type.values())
        if count < MIN_RESULTS:
            return []
        ok = sum(float(t["success_rate"]) * int(t["count"]) for t in by_type.values())
        success = ok / count
        found = []
        if 1 - success > self.settings.error_rate:
            found.append(
                Condition(
                    "error_rate",
                    Severity.CRITICAL,
                    f"error rate {100 * (1 - success):.0f}% over {count} tasks in the last hour",
                )
            )
        if success < self.settings.success_rate:
            found.append(
                Condition(
                    "success_rate",
                    Severity.WARNING,
                    f"success rate {100 * success:.0f}% over {count} tasks in the last hour",
                )
            )
        weighted = [(t["p50_ms"], int(t["count"])) for t in by_type.values() if t.get("p50_ms") is not None]
        if weighted:
            avg = sum(v * n for v, n in weighted) / sum(n for _, n in weighted)
            if avg > self.settings.avg_response_ms:
                found.append(
                    Condition(
                        "slow_responses",
                        Severity.WARNING,
                        f"median response {avg:.0f} ms (> {self.settings.avg_response_ms:g} ms)",
                    )
                )
        return found

    def _backlog_growing(self, now: float, pending: int) -> bool:
        """Pending never fell, and rose overall, across at least `backlog_growing` seconds of samples."""
        if self._pending and pending < self._pending[-1][1]:
            self._pending.clear()
        self._pending.append((now, pending))
        span = self.settings.backlog_growing
        while len(self._pending) > 1 and self._pending[1][0] <= now - span:
            self._pending.popleft()
        first_at, first = self._pending[0]
        return now - first_at >= span and pending > first

    def _backup(self, now: float) -> list[Condition]:
        if self.backup_age is None:
            return []
        age = self.backup_age(now)
        if age is None or age <= self.settings.backup_max_age:
            return []
        return [Condition("backup_old", Severity.WARNING, f"last good backup is {age / 3600:.0f} h old")]


def backup_age_for(backups_dir: Path, every: float = 300.0) -> BackupAge:
    """Age of the newest complete snapshot in `backups_dir`; None while backups are not set up (the
    backup package absent, or no snapshot yet). The folder is looked at every `every` seconds at most."""
    checked: list[float | None] = [None, None]  # when the folder was last read, what it said

    def age(now: float) -> float | None:
        if checked[0] is None or now - checked[0] >= every:
            checked[0], checked[1] = now, _last_good(backups_dir)
        last = checked[1]
        return None if last is None else max(0.0, now - last)

    return age


def _last_good(backups_dir: Path) -> float | None:
    try:
        from autonomic.backup.catalog import last_good_at
    except ImportError:
        return None
    with contextlib.suppress(OSError, ValueError, AutonomicError):
        return last_good_at(backups_dir)
    return None
