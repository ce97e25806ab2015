"""Prometheus exposition of the latest sample (`/metrics`): service up/state/restarts, process-tree
CPU and RSS, queue depth by priority and status, throughput counters, latency by task type, system
gauges. A custom collector reads the sample at scrape time, so nothing is kept twice."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from autonomic.monitor.queuefacts import LATENCY_BUCKETS
from autonomic.supervisor.state import ServiceState

STATES = tuple(state.value for state in ServiceState)

LatestSample = Callable[[], dict[str, Any] | None]


class SampleCollector(Collector):
    """Turns the newest sample into metric families at each scrape."""

    def __init__(self, latest: LatestSample) -> None:
        self.latest = latest

    def collect(self) -> Iterator[Metric]:
        sample = self.latest()
        if not sample:
            return
        yield from _services(sample)
        yield from _queue(sample.get("queue", {}))
        yield from _system(sample.get("system", {}))
        up = GaugeMetricFamily(
            "autonomic_orchestrator_reachable", "1 if the monitor could read the orchestrator"
        )
        up.add_metric([], 1.0 if sample.get("orchestrator", {}).get("reachable") else 0.0)
        yield up
        monitor = sample.get("monitor") or {}
        own = GaugeMetricFamily("autonomic_monitor_rss_bytes", "Resident memory of the monitor itself")
        own.add_metric([], float(monitor.get("rss_mb") or 0) * 1024 * 1024)
        yield own


def registry(latest: LatestSample) -> CollectorRegistry:
    """A registry holding only the sample collector (no default process/GC collectors)."""
    found = CollectorRegistry(auto_describe=False)
    found.register(SampleCollector(latest))
    return found


def _services(sample: dict[str, Any]) -> Iterator[Metric]:
    up = GaugeMetricFamily("autonomic_service_up", "1 if the service is running", labels=["service"])
    state = GaugeMetricFamily(
        "autonomic_service_state", "1 for the service's current state", labels=["service", "state"]
    )
    restarts = CounterMetricFamily(
        "autonomic_service_restarts", "Restarts since the orchestrator started", labels=["service"]
    )
    cpu = GaugeMetricFamily(
        "autonomic_service_cpu_percent", "CPU % of one core, whole process tree", labels=["service"]
    )
    rss = GaugeMetricFamily(
        "autonomic_service_rss_bytes", "Resident memory of the whole process tree", labels=["service"]
    )
    procs = GaugeMetricFamily(
        "autonomic_service_processes", "Processes in the service's tree", labels=["service"]
    )
    threads = GaugeMetricFamily(
        "autonomic_service_threads", "Threads in the service's tree", labels=["service"]
    )
    files = GaugeMetricFamily(
        "autonomic_service_open_files", "Open descriptors in the service's tree", labels=["service"]
    )
    for s in sample.get("services", []):
        name = str(s["name"])
        up.add_metric([name], 1.0 if s.get("state") == "running" else 0.0)
        for candidate in STATES:
            state.add_metric([name, candidate], 1.0 if s.get("state") == candidate else 0.0)
        restarts.add_metric([name], float(s.get("restarts") or 0))
        cpu.add_metric([name], float(s.get("cpu_percent") or 0))
        rss.add_metric([name], float(s.get("rss_mb") or 0) * 1024 * 1024)
        procs.add_metric([name], float(s.get("processes") or 0))
        threads.add_metric([name], float(s.get("threads") or 0))
        files.add_metric([name], float(s.get("open_files") or 0))
    yield from (up, state, restarts, cpu, rss, procs, threads, files)


def _queue(queue: dict[str, Any]) -> Iterator[Metric]:
    reachable = GaugeMetricFamily("autonomic_queue_reachable", "1 if the monitor could read the queue")
    reachable.add_metric([], 1.0 if queue.get("reachable") else 0.0)
    yield reachable
    if not queue.get("reachable"):
        return
    depth = GaugeMetricFamily(
        "autonomic_queue_tasks", "Tasks by status (pending also by priority)", labels=["status", "priority"]
    )
    for priority, count in queue.get("pending_by_priority", {}).items():
        depth.add_metric(["pending", priority], float(count))
    for status in ("inflight", "dead", "cancelled"):
        depth.add_metric([status, ""], float(queue.get(status, 0)))
    yield depth
    done = CounterMetricFamily(
        "autonomic_queue_completed_tasks", "Tasks finished, by outcome", labels=["outcome"]
    )
    done.add_metric(["success"], float(queue.get("successful", 0)))
    done.add_metric(["failure"], float(queue.get("failed", 0)))
    yield done
    workers = GaugeMetricFamily("autonomic_queue_live_workers", "Workers heard from recently")
    workers.add_metric([], float(queue.get("workers", 0)))
    yield workers
    latency = GaugeMetricFamily(
        "autonomic_task_latency_seconds",
        "Task run time over the last hour's results, by type and quantile",
        labels=["type", "quantile"],
    )
    count = GaugeMetricFamily(
        "autonomic_task_results_last_hour", "Results in the last hour, by type", labels=["type"]
    )
    for task_type, row in queue.get("by_type", {}).items():
        for quantile, key in (("0.5", "p50_ms"), ("0.95", "p95_ms")):
            if row.get(key) is not None:
                latency.add_metric([task_type, quantile], float(row[key]) / 1000.0)
        count.add_metric([task_type], float(row.get("count", 0)))
    yield latency
    yield count
    yield _histogram(queue.get("by_type", {}))


def _histogram(by_type: dict[str, dict[str, Any]]) -> Metric:
    """The last hour's run times by type as a gauge histogram (a window, so not a monotonic counter)."""
    family = GaugeHistogramMetricFamily(
        "autonomic_task_duration_seconds",
        "Task run time over the last hour's results, by type",
        labels=["type"],
    )
    for task_type, row in by_type.items():
        counts = row.get("buckets")
        if not isinstance(counts, list) or len(counts) != len(LATENCY_BUCKETS):
            continue
        buckets = [(f"{bound:g}", float(n)) for bound, n in zip(LATENCY_BUCKETS, counts, strict=True)]
        buckets.append(("+Inf", float(row.get("timed", row.get("count", 0)))))
        family.add_metric([task_type], buckets, float(row.get("sum_ms", 0.0)) / 1000.0)
    return family


def _system(system: dict[str, Any]) -> Iterator[Metric]:
    values = {
        "autonomic_system_cpu_percent": ("CPU % of all cores", system.get("cpu_percent")),
        "autonomic_system_memory_percent": ("Memory used %", system.get("memory", {}).get("percent")),
        "autonomic_system_swap_percent": ("Swap used %", system.get("swap", {}).get("percent")),
        "autonomic_system_disk_percent": (
            "Disk used % (the workspace's disk)",
            system.get("disk", {}).get("percent"),
        ),
    }
    for name, (doc, value) in values.items():
        if value is not None:
            gauge = GaugeMetricFamily(name, doc)
            gauge.add_metric([], float(value))
            yield gauge
    load = system.get("load")
    if load:
        gauge = GaugeMetricFamily("autonomic_system_load1", "1-minute load average")
        gauge.add_metric([], float(load[0]))
        yield gauge
