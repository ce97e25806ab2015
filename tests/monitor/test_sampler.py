"""Sampling against real processes (issue 10): a service's children count in its RSS, and a sample
that cannot reach the orchestrator or the queue says so and carries on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil

from autonomic.errors import NotRunningError, QueueUnavailable
from autonomic.monitor.sampler import Sampler
from tests.helpers import wait_until

CHILD = "b = b'x' * (40 * 1024 * 1024); import time; time.sleep(120)"
PARENT = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {CHILD!r}]); time.sleep(120)"
ORIGIN_FIELDS = (
    "timestamp",
    "total_tasks",
    "successful_tasks",
    "failed_tasks",
    "avg_response_time_ms",
    "error_rate",
    "active_workers",
    "queue_size",
    "memory_usage_mb",
    "cpu_usage_percent",
)


def _status(pid: int) -> dict[str, Any]:
    return {
        "orchestrator": {"pid": None},
        "services": [
            {"name": "web", "state": "running", "pid": pid, "restarts": 2, "uptime": 5.0, "detail": ""}
        ],
    }


def _queue() -> dict[str, Any]:
    return {
        "stats": {
            "pending": 4,
            "pending_urgent": 1,
            "pending_normal": 3,
            "inflight": 1,
            "completed": 10,
            "successful": 8,
            "failed": 2,
            "success_rate": 80.0,  # the server says percent
            "workers": 1,
            "avg_duration_ms": 12.5,
        },
        "results": [
            {"type": "http", "success": True, "duration_ms": float(d), "at": 1e12} for d in range(1, 21)
        ],
    }


def test_issue10_a_services_children_count_in_its_rss(tmp_path: Path, pids: list[int]) -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT])
    pids.append(parent.pid)
    wait_until(lambda: psutil.Process(parent.pid).children(), timeout=20, what="the child to start")
    child = psutil.Process(parent.pid).children()[0]
    wait_until(lambda: child.memory_info().rss > 40 * 1024 * 1024, timeout=20, what="the child to allocate")
    sampler = Sampler(tmp_path, lambda: _status(parent.pid), None)
    web = sampler.sample()["services"][0]
    own = psutil.Process(parent.pid).memory_info().rss / 1024 / 1024
    assert web["processes"] == 2
    assert web["rss_mb"] >= own + 40
    assert web["threads"] >= 2 and web["open_files"] >= 2
    assert web["restarts"] == 2 and web["state"] == "running"
    second = Sampler(tmp_path, lambda: _status(parent.pid), None)
    second.sample()
    assert second.sample()["services"][0]["cpu_percent"] >= 0.0


def test_a_sample_says_what_it_could_not_see(tmp_path: Path) -> None:
    def no_orchestrator() -> dict[str, Any]:
        raise NotRunningError("the orchestrator is not running (run 'autonomic up')")

    def no_queue() -> dict[str, Any]:
        raise QueueUnavailable("queue server not reachable at http://127.0.0.1:9")

    record = Sampler(tmp_path, no_orchestrator, no_queue).sample()
    assert record["orchestrator"] == {
        "reachable": False,
        "error": "the orchestrator is not running (run 'autonomic up')",
    }
    assert record["queue"] == {
        "reachable": False,
        "error": "queue server not reachable at http://127.0.0.1:9",
    }
    assert record["services"] == []
    assert all(field in record for field in ORIGIN_FIELDS)
    assert record["system"]["disk"]["percent"] is not None and record["monitor"]["rss_mb"] > 0


def test_the_queue_section_and_the_original_fields(tmp_path: Path) -> None:
    sampler = Sampler(tmp_path, None, _queue)
    sampler.sample()
    record = sampler.sample()
    queue = record["queue"]
    assert queue["pending_by_priority"] == {"urgent": 1, "normal": 3, "low": 0}
    assert queue["success_rate"] == 0.8  # a fraction, from the counts
    assert queue["throughput_per_min"] == 0.0  # nothing completed between the two samples
    assert queue["by_type"]["http"]["p50_ms"] == 10.0 and queue["by_type"]["http"]["p95_ms"] == 19.0
    assert queue["by_type"]["http"]["count"] == 20
    assert (record["total_tasks"], record["successful_tasks"], record["failed_tasks"]) == (10, 8, 2)
    assert record["error_rate"] == 0.2 and record["queue_size"] == 4 and record["active_workers"] == 1
