"""The seed's four report files, rewritten atomically every `report_every` and by `autonomic report`:

- `outputs/monitoring_report_latest.md`: summary, availability per service over 24 h, restarts and
  incidents, alerts, recommendations that follow from the numbers;
- `outputs/performance_dashboard_latest.md`: queue throughput, latency and success rate by task type,
  resource trends;
- `outputs/realtime_summary_latest.json`: the current state (see `summary.py` and its JSON Schema);
- `outputs/dashboard_latest.html`: a self-contained page with the 24 h charts, readable offline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autonomic import atomic
from autonomic.monitor.dashboard.page import static_page
from autonomic.monitor.history import History
from autonomic.monitor.recommend import recommendations
from autonomic.monitor.summary import iso


@dataclass(frozen=True)
class ReportFiles:
    monitoring: Path
    performance: Path
    summary: Path
    html: Path

    @classmethod
    def under(cls, outputs: Path) -> ReportFiles:
        return cls(
            outputs / "monitoring_report_latest.md",
            outputs / "performance_dashboard_latest.md",
            outputs / "realtime_summary_latest.json",
            outputs / "dashboard_latest.html",
        )

    def all(self) -> list[Path]:
        return [self.monitoring, self.performance, self.summary, self.html]


def write_reports(files: ReportFiles, summary: dict[str, Any], history: History, now: float) -> None:
    """Write the four files, each atomically (readable by the user: mode 0644)."""
    atomic.write_text(files.monitoring, monitoring_report(summary, history, now), mode=0o644)
    atomic.write_text(files.performance, performance_report(summary, history, now), mode=0o644)
    atomic.write_text(files.summary, json.dumps(summary, indent=2, default=str) + "\n", mode=0o644)
    atomic.write_text(files.html, static_page(summary, history), mode=0o644)


def monitoring_report(summary: dict[str, Any], history: History, now: float) -> str:
    lines = [
        "# Monitoring report",
        "",
        f"Generated {summary['generated_at']} from the sample of {summary['sample_at'] or 'none yet'}.",
        "",
        "## Executive summary",
        "",
        *_executive(summary),
        "",
        "## Availability (last 24 h)",
        "",
        "| service | state | availability | up | down | unwatched | restarts (24 h) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    available = history.availability(now)
    states = {s["name"]: s["state"] for s in summary["services"]}
    restarts = history.restarts()
    for name in sorted(available):
        share = available[name]
        percent = "n/a" if share.percent is None else f"{share.percent:.2f} %"
        lines.append(
            f"| {name} | {states.get(name, 'gone')} | {percent} | {_hours(share.up)} | {_hours(share.down)} "
            f"| {_hours(share.unknown)} | {restarts.get(name, 0)} |"
        )
    lines += ["", "## Restarts and incidents (last 24 h)", ""]
    incidents = history.incidents()
    lines += [f"- {iso(e.at)} {e.target}: {e.action} {e.status} {e.details}".rstrip() for e in incidents] or [
        "None."
    ]
    lines += ["", "## Alerts", ""]
    firing = summary["alerts"]["firing"]
    lines += [f"- **{a['severity']}** {a['key']}: {a['message']} (since {a['since']})" for a in firing] or [
        "None firing."
    ]
    recent = summary["alerts"]["recent"]
    if recent:
        lines += ["", "Last 24 h:", ""]
        lines += [
            f"- {r.get('timestamp')} {r.get('target')} {r.get('status')}: {r.get('details')}"
            for r in recent[-20:]
        ]
    lines += ["", "## Recommendations", ""]
    lines += [f"- {r}" for r in recommendations(summary, available)] or [
        "- Nothing to do: the numbers are healthy."
    ]
    return "\n".join(lines) + "\n"


def performance_report(summary: dict[str, Any], history: History, now: float) -> str:
    queue = summary["queue"]
    lines = ["# Performance dashboard", "", f"Generated {summary['generated_at']}.", "", "## Queue", ""]
    if queue.get("error") == "disabled":
        lines.append("The queue is disabled in autonomic.toml.")
    elif not queue.get("reachable"):
        lines.append(f"The queue could not be read: {queue.get('error')}.")
    else:
        by_priority = ", ".join(f"{k} {v}" for k, v in queue.get("pending_by_priority", {}).items())
        throughput = queue.get("throughput_per_min")
        lines += [
            f"- pending: {queue['pending']} ({by_priority}); in flight: {queue['inflight']}; "
            f"dead-lettered: {queue['dead']}",
            f"- completed: {queue['completed']} ({queue['successful']} ok, {queue['failed']} failed), "
            f"success rate {100 * queue['success_rate']:.1f} %",
            f"- throughput: {'n/a' if throughput is None else f'{throughput:.1f}'} tasks/min; "
            f"live workers: {queue['workers']}",
            "",
            "### By task type (last hour)",
            "",
            "| type | results | success | p50 ms | p95 ms |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, row in queue.get("by_type", {}).items():
            lines.append(
                f"| {name} | {row['count']} | {100 * row['success_rate']:.1f} % "
                f"| {_ms(row['p50_ms'])} | {_ms(row['p95_ms'])} |"
            )
    lines += [
        "",
        "## Resource trends (last 24 h, 5-minute means)",
        "",
        "| series | min | mean | max | now |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, key in (
        ("system CPU %", "cpu"),
        ("memory %", "memory"),
        ("disk %", "disk"),
        ("pending tasks", "pending"),
        ("throughput /min", "throughput"),
    ):
        lines.append(_trend_row(label, history.series(key)))
    for service in summary["services"]:
        lines.append(_trend_row(f"{service['name']} RSS MB", history.series(f"rss:{service['name']}")))
        lines.append(_trend_row(f"{service['name']} CPU %", history.series(f"cpu:{service['name']}")))
    return "\n".join(lines) + "\n"


def _executive(summary: dict[str, Any]) -> list[str]:
    services = summary["services"]
    running = sum(1 for s in services if s["state"] == "running")
    shares = [s["availability_24h"] for s in services if s["availability_24h"] is not None]
    queue = summary["queue"]
    lines = [
        f"- Overall status: **{summary['status'].upper()}**",
        f"- Services: {running} of {len(services)} running"
        + (f"; lowest 24 h availability {min(shares):.2f} %" if shares else ""),
        f"- Alerts firing: {len(summary['alerts']['firing'])}",
    ]
    if not summary["orchestrator"].get("reachable"):
        lines.append(f"- The orchestrator could not be read: {summary['orchestrator'].get('error')}")
    if queue.get("reachable"):
        lines.append(
            f"- Queue: {queue['pending']} pending, {queue['inflight']} in flight, "
            f"{queue['workers']} live workers"
        )
    elif queue.get("error") != "disabled":
        lines.append(f"- Queue: not reachable ({queue.get('error')})")
    return lines


def _trend_row(label: str, points: list[tuple[float, float]]) -> str:
    if not points:
        return f"| {label} | n/a | n/a | n/a | n/a |"
    values = [v for _, v in points]
    mean = sum(values) / len(values)
    return f"| {label} | {min(values):.1f} | {mean:.1f} | {max(values):.1f} | {values[-1]:.1f} |"


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"
