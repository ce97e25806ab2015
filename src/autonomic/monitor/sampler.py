"""`Sampler`: one sample of the system, every supervised service's process tree, and the queue.

A sample is a plain dict (one line of `outputs/system_metrics.jsonl`). It carries the original
snapshot fields (ORIGIN_API: `total_tasks` ... `cpu_usage_percent`) at the top level, and the detail
under `system`, `services`, `queue` and `monitor`. What could not be read is said, not guessed:
`orchestrator.error` / `queue.error`, with `reachable: false`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from autonomic.clock import Clock, SystemClock
from autonomic.errors import AutonomicError
from autonomic.monitor.procs import MB, ProcessTable
from autonomic.monitor.queuefacts import summarise_queue
from autonomic.monitor.sources import unreachable

Source = Callable[[], dict[str, Any]]
GB = 1024 * MB


class Sampler:
    """Takes samples; keeps what rates need (CPU objects, I/O counters, the last completed count)."""

    def __init__(
        self,
        disk_path: Path,
        status: Source | None,
        queue: Source | None,
        clock: Clock | None = None,
    ) -> None:
        self.disk_path = disk_path
        self.status = status
        self.queue = queue
        self.clock = clock or SystemClock()
        self.procs = ProcessTable()
        self._last_at: float | None = None
        self._last_io: dict[str, float] = {}
        self._last_completed: int | None = None
        psutil.cpu_percent(None)  # the first call only starts the measurement

    def sample(self) -> dict[str, Any]:
        """Take one sample now."""
        now = self.clock.time()
        elapsed = None if self._last_at is None else max(now - self._last_at, 1e-6)
        self._last_at = now
        system = self._system(elapsed)
        orchestrator, services = self._services()
        queue = self._queue(now, elapsed)
        monitor = self.procs.own(os.getpid())
        self.procs.forget_unseen()
        record: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(now).astimezone().isoformat(timespec="milliseconds"),
            "ts": round(now, 3),
            **_origin_fields(system, queue),
            "system": system,
            "orchestrator": orchestrator,
            "services": services,
            "queue": queue,
            "monitor": monitor.as_dict() if monitor else None,
        }
        return record

    # --- the machine ------------------------------------------------------------------------------
    def _system(self, elapsed: float | None) -> dict[str, Any]:
        memory = psutil.virtual_memory()
        swap = psutil.swap_memory()
        return {
            "cpu_percent": psutil.cpu_percent(None),
            "cpu_count": psutil.cpu_count() or 1,
            "memory": {
                "percent": memory.percent,
                "used_mb": round((memory.total - memory.available) / MB, 1),
                "total_mb": round(memory.total / MB, 1),
            },
            "swap": {"percent": swap.percent, "used_mb": round(swap.used / MB, 1)},
            "load": [round(x, 2) for x in _load()],
            "disk": {**self._disk(), **self._io("disk", _disk_counters(), elapsed)},
            "net": self._io("net", _net_counters(), elapsed),
        }

    def _disk(self) -> dict[str, Any]:
        try:
            usage = psutil.disk_usage(str(self.disk_path))
        except OSError:
            return {"path": str(self.disk_path), "percent": None}
        return {
            "path": str(self.disk_path),
            "percent": usage.percent,
            "used_gb": round(usage.used / GB, 2),
            "total_gb": round(usage.total / GB, 2),
        }

    def _io(self, prefix: str, counters: dict[str, float], elapsed: float | None) -> dict[str, Any]:
        """Totals and per-second rates since the previous sample (rates absent on the first one)."""
        out: dict[str, Any] = {}
        for name, value in counters.items():
            out[name] = value
            key = f"{prefix}.{name}"
            last = self._last_io.get(key)
            rate_name = name.removesuffix("_bytes") + "_per_sec"
            if elapsed is not None and last is not None and value >= last:
                out[rate_name] = round((value - last) / elapsed, 1)
            else:
                out[rate_name] = None
            self._last_io[key] = value
        return out

    # --- the services -----------------------------------------------------------------------------
    def _services(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        if self.status is None:
            return {"reachable": False, "error": "not configured"}, []
        try:
            reply = self.status()
        except AutonomicError as exc:
            return {"reachable": False, "error": unreachable(exc)}, []
        self.procs.scan()
        services = [self._service(raw) for raw in reply.get("services", []) if isinstance(raw, dict)]
        boss = reply.get("orchestrator") or {}
        orchestrator = {
            "reachable": True,
            "error": None,
            "pid": boss.get("pid"),
            "uptime": boss.get("uptime"),
        }
        if isinstance(boss.get("pid"), int):
            usage = self.procs.own(int(boss["pid"]))
            orchestrator["rss_mb"] = usage.rss_mb if usage else None
        return orchestrator, services

    def _service(self, raw: dict[str, Any]) -> dict[str, Any]:
        pid = raw.get("pid")
        usage = self.procs.tree(pid) if isinstance(pid, int) else None
        return {
            "name": str(raw.get("name", "?")),
            "state": str(raw.get("state", "unknown")),
            "pid": pid,
            "restarts": int(raw.get("restarts") or 0),
            "uptime": raw.get("uptime"),
            # the probe's "ok" line of a running service says nothing new each sample: kept short
            "detail": "" if raw.get("state") == "running" else str(raw.get("detail") or "")[:300],
            "core": bool(raw.get("core", False)),
            **(usage.as_dict() if usage else _no_usage()),
        }

    # --- the queue --------------------------------------------------------------------------------
    def _queue(self, now: float, elapsed: float | None) -> dict[str, Any]:
        if self.queue is None:
            return {"reachable": False, "error": "disabled"}
        try:
            facts = self.queue()
        except AutonomicError as exc:
            return {"reachable": False, "error": unreachable(exc)}
        summary = summarise_queue(facts, now, elapsed, self._last_completed)
        self._last_completed = summary["completed"]
        return summary


def _origin_fields(system: dict[str, Any], queue: dict[str, Any]) -> dict[str, Any]:
    """The original snapshot's fields, so tools written for it read these lines unchanged."""
    reachable = queue.get("reachable", False)
    completed = int(queue.get("completed", 0)) if reachable else 0
    successful = int(queue.get("successful", 0)) if reachable else 0
    failed = int(queue.get("failed", 0)) if reachable else 0
    return {
        "total_tasks": completed,
        "successful_tasks": successful,
        "failed_tasks": failed,
        "avg_response_time_ms": float(queue.get("avg_duration_ms", 0.0)) if reachable else 0.0,
        "error_rate": round(failed / completed, 4) if completed else 0.0,
        "active_workers": int(queue.get("workers", 0)) if reachable else 0,
        "queue_size": int(queue.get("pending", 0)) if reachable else 0,
        "memory_usage_mb": system["memory"]["used_mb"],
        "cpu_usage_percent": system["cpu_percent"],
    }


def _no_usage() -> dict[str, Any]:
    return {"processes": 0, "cpu_percent": 0.0, "rss_mb": 0.0, "threads": 0, "open_files": 0}


def _load() -> tuple[float, float, float]:
    try:
        return psutil.getloadavg()
    except (OSError, AttributeError):
        return (0.0, 0.0, 0.0)


def _disk_counters() -> dict[str, float]:
    io = psutil.disk_io_counters()
    return {} if io is None else {"read_bytes": io.read_bytes, "write_bytes": io.write_bytes}


def _net_counters() -> dict[str, float]:
    io = psutil.net_io_counters()
    return {"sent_bytes": io.bytes_sent, "recv_bytes": io.bytes_recv}
