"""Builders of seeded samples and events for the monitor's tests."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any


def sample(
    at: float, states: dict[str, str], pending: int = 0, workers: int = 1, **extra: Any
) -> dict[str, Any]:
    """A sample as the sampler writes it, with only the fields the tested code reads."""
    return {
        "timestamp": datetime.fromtimestamp(at).astimezone().isoformat(timespec="milliseconds"),
        "ts": at,
        "queue_size": pending,
        "system": {
            "cpu_percent": 10.0,
            "memory": {"percent": 40.0},
            "swap": {"percent": 0.0},
            "disk": {"percent": 50.0, "path": "/"},
            "load": [0.1, 0.1, 0.1],
        },
        "orchestrator": {"reachable": True, "error": None},
        "services": [
            {"name": n, "state": s, "pid": None, "restarts": 0, "rss_mb": 10.0, "cpu_percent": 1.0}
            for n, s in states.items()
        ],
        "queue": {
            "reachable": True,
            "error": None,
            "pending": pending,
            "pending_by_priority": {"urgent": 0, "normal": pending, "low": 0},
            "inflight": 0,
            "dead": 0,
            "cancelled": 0,
            "completed": 0,
            "successful": 0,
            "failed": 0,
            "success_rate": 0.0,
            "avg_duration_ms": 0.0,
            "workers": workers,
            "throughput_per_min": None,
            "by_type": {},
        },
        "monitor": {"cpu_percent": 0.5, "rss_mb": 40.0},
        **extra,
    }


def event(at: float, action: str, target: str, status: str, details: str = "") -> str:
    record = {
        "timestamp": datetime.fromtimestamp(at).astimezone().isoformat(timespec="milliseconds"),
        "action": action,
        "target": target,
        "status": status,
        "details": details,
    }
    return json.dumps(record)


def write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
