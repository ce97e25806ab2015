"""The machine-readable current state (`outputs/realtime_summary_latest.json`), built from the latest
sample, the 24 h history and the alert book. Its shape is documented by the JSON Schema shipped beside
this module (`realtime_summary.schema.json`); `SCHEMA_ID` names its version."""

from __future__ import annotations

import json
from datetime import datetime
from importlib import resources
from typing import Any

from autonomic.monitor.alerts import AlertState, Entry
from autonomic.monitor.history import History

SCHEMA_ID = "autonomic.realtime_summary/1"


def schema() -> dict[str, Any]:
    """The JSON Schema of the summary, from the package data."""
    text = resources.files("autonomic.monitor").joinpath("realtime_summary.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def iso(at: float) -> str:
    return datetime.fromtimestamp(at).astimezone().isoformat(timespec="seconds")


def build_summary(
    history: History,
    firing: dict[str, Entry],
    recent_alerts: list[dict[str, Any]],
    now: float,
    interval: float,
) -> dict[str, Any]:
    """The summary dict; every number in it comes from `history.latest` or the history's 24 h window."""
    latest = history.latest or {}
    available = history.availability(now)
    restarts = history.restarts()
    services = []
    for service in latest.get("services", []):
        share = available.get(service["name"])
        services.append(
            {
                **{k: service.get(k) for k in ("name", "state", "pid", "restarts", "uptime", "detail")},
                **{
                    k: service.get(k) for k in ("processes", "cpu_percent", "rss_mb", "threads", "open_files")
                },
                "availability_24h": None
                if share is None or share.percent is None
                else round(share.percent, 2),
                "restarts_24h": restarts.get(service["name"], 0),
            }
        )
    system = latest.get("system", {})
    alerts = [
        {"key": k, "severity": e.severity, "message": e.message, "since": iso(e.since)}
        for k, e in sorted(firing.items())
        if e.state is AlertState.FIRING
    ]
    return {
        "schema": SCHEMA_ID,
        "generated_at": iso(now),
        "sample_at": latest.get("timestamp"),
        "status": _status(services, alerts, latest),
        "orchestrator": latest.get("orchestrator", {"reachable": False, "error": "no sample yet"}),
        "services": services,
        "queue": latest.get("queue", {"reachable": False, "error": "no sample yet"}),
        "system": {
            "cpu_percent": system.get("cpu_percent"),
            "memory_percent": system.get("memory", {}).get("percent"),
            "swap_percent": system.get("swap", {}).get("percent"),
            "disk_percent": system.get("disk", {}).get("percent"),
            "load": system.get("load"),
        },
        "alerts": {"firing": alerts, "recent": recent_alerts},
        "monitor": {**(latest.get("monitor") or {}), "interval": interval},
    }


def _status(services: list[dict[str, Any]], alerts: list[dict[str, Any]], latest: dict[str, Any]) -> str:
    if not latest or any(a["severity"] == "critical" for a in alerts):
        return "critical"
    unwell = [s for s in services if s["state"] not in ("running", "stopped")]
    if alerts or unwell or not latest.get("orchestrator", {}).get("reachable"):
        return "degraded"
    return "ok"
