"""Turns the queue's raw facts (stats + newest results) into a sample's `queue` section: pending by
priority, in flight, dead-lettered, throughput, success rate, latency p50/p95 by task type, live workers.
"""

from __future__ import annotations

from typing import Any

LATENCY_WINDOW = 3600.0  # latency by task type covers the results of the last hour
# upper bounds (seconds) of the latency histogram buckets; a last +Inf bucket is implied
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def summarise_queue(
    facts: dict[str, Any], now: float, elapsed: float | None, last_completed: int | None
) -> dict[str, Any]:
    """The `queue` section; throughput is completed tasks per minute since the previous sample."""
    stats = facts.get("stats", {})
    completed = int(stats.get("completed", 0))
    throughput = None
    if elapsed is not None and last_completed is not None and completed >= last_completed:
        throughput = round((completed - last_completed) * 60.0 / elapsed, 2)
    return {
        "reachable": True,
        "error": None,
        "pending": int(stats.get("pending", 0)),
        "pending_by_priority": {p: int(stats.get(f"pending_{p}", 0)) for p in ("urgent", "normal", "low")},
        "inflight": int(stats.get("inflight", 0)),
        "dead": int(stats.get("dead", 0)),
        "cancelled": int(stats.get("cancelled", 0)),
        "completed": completed,
        "successful": int(stats.get("successful", 0)),
        "failed": int(stats.get("failed", 0)),
        # a fraction, from the counts (the server's own field is a percentage, 100 when idle)
        "success_rate": round(int(stats.get("successful", 0)) / completed, 4) if completed else 1.0,
        "avg_duration_ms": float(stats.get("avg_duration_ms", 0.0)),
        "workers": int(stats.get("workers", 0)),
        "throughput_per_min": throughput,
        "by_type": by_type(facts.get("results", []), now),
        "by_type_error": facts.get("results_error"),
    }


def by_type(results: list[dict[str, Any]], now: float) -> dict[str, dict[str, Any]]:
    """Count, success rate and latency p50/p95 (ms) per task type over the last hour's results."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        if now - float(result.get("at", 0.0)) <= LATENCY_WINDOW:
            groups.setdefault(str(result.get("type", "unknown")), []).append(result)
    out: dict[str, dict[str, Any]] = {}
    for name, group in sorted(groups.items()):
        durations = sorted(float(r["duration_ms"]) for r in group if r.get("duration_ms") is not None)
        ok = sum(1 for r in group if r.get("success"))
        out[name] = {
            "count": len(group),
            "success_rate": round(ok / len(group), 4),
            "p50_ms": percentile(durations, 50),
            "p95_ms": percentile(durations, 95),
            "timed": len(durations),
            "sum_ms": round(sum(durations), 2),
            "buckets": [sum(1 for d in durations if d <= bound * 1000) for bound in LATENCY_BUCKETS],
        }
    return out


def percentile(values: list[float], pct: float) -> float | None:
    """The nearest-rank percentile of sorted `values` (None for no values)."""
    if not values:
        return None
    rank = max(1, -(-len(values) * pct // 100))  # ceil without floats drifting
    return round(values[int(rank) - 1], 2)
