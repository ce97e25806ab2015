"""`History`: the last 24 h the reports and charts are drawn from, kept small enough to hold in the
daemon (which feeds it each sample) and rebuilt from the files by `autonomic report`.

It keeps each sample's service states (a tuple per sample), 5-minute averages of the charted values,
and the orchestrator's state changes and restarts.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from autonomic.monitor.availability import LOGGED, UNKNOWN, Availability, Observation, availability
from autonomic.monitor.events import Event

WINDOW = 24 * 3600.0
BUCKET = 300.0
_RESTART_STATES = frozenset({"backoff", "restarting"})


@dataclass
class Bucket:
    """Sums and counts of the charted values of the samples in one 5-minute slot."""

    start: float
    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, key: str, value: float | None) -> None:
        if value is None:
            return
        self.sums[key] = self.sums.get(key, 0.0) + float(value)
        self.counts[key] = self.counts.get(key, 0) + 1

    def mean(self, key: str) -> float | None:
        n = self.counts.get(key, 0)
        return self.sums[key] / n if n else None


class History:
    """The rolling 24 h window. `hold` is how long one sample's observation stands (3 intervals)."""

    def __init__(self, hold: float, window: float = WINDOW) -> None:
        self.hold = hold
        self.window = window
        self.names: list[str] = []
        self.rows: deque[tuple[float, tuple[str, ...]]] = deque()
        self.buckets: deque[Bucket] = deque()
        self.events: deque[Event] = deque()
        self.carried: dict[str, Event] = {}  # each service's last state change before the window
        self.latest: dict[str, Any] | None = None
        self.first_at: float | None = None

    # --- feeding --------------------------------------------------------------------------------
    def add_sample(self, sample: dict[str, Any]) -> None:
        at = float(sample["ts"])
        self.latest = sample
        self.first_at = at if self.first_at is None else min(self.first_at, at)
        if sample.get("orchestrator", {}).get("reachable"):
            states = {s["name"]: s["state"] for s in sample.get("services", [])}
            for name in states:
                if name not in self.names:
                    self.names.append(name)
            self.rows.append((at, tuple(states.get(n, UNKNOWN) for n in self.names)))
        self._bucket(at, sample)
        self.trim(at)

    def add_events(self, events: list[Event]) -> None:
        for event in events:
            self.events.append(event)
            if event.action == "state" and event.target not in self.names:
                self.names.append(event.target)

    def trim(self, now: float) -> None:
        edge = now - self.window
        while self.rows and self.rows[0][0] < edge:
            self.rows.popleft()
        while self.buckets and self.buckets[0].start + BUCKET < edge:
            self.buckets.popleft()
        while self.events and self.events[0].at < edge:
            dropped = self.events.popleft()
            if dropped.action == "state":
                self.carried[dropped.target] = dropped
            elif dropped.action == "start" and dropped.target == "orchestrator":
                self.carried.clear()

    def _bucket(self, at: float, sample: dict[str, Any]) -> None:
        start = at - at % BUCKET
        if not self.buckets or self.buckets[-1].start != start:
            self.buckets.append(Bucket(start))
        bucket = self.buckets[-1]
        system = sample.get("system", {})
        bucket.add("cpu", system.get("cpu_percent"))
        bucket.add("memory", system.get("memory", {}).get("percent"))
        bucket.add("disk", system.get("disk", {}).get("percent"))
        queue = sample.get("queue", {})
        if queue.get("reachable"):
            bucket.add("pending", queue.get("pending"))
            bucket.add("inflight", queue.get("inflight"))
            bucket.add("throughput", queue.get("throughput_per_min"))
            bucket.add("workers", queue.get("workers"))
        for service in sample.get("services", []):
            bucket.add(f"rss:{service['name']}", service.get("rss_mb"))
            bucket.add(f"cpu:{service['name']}", service.get("cpu_percent"))
        monitor = sample.get("monitor") or {}
        bucket.add("rss:monitor-self", monitor.get("rss_mb"))

    # --- reading --------------------------------------------------------------------------------
    def series(self, key: str) -> list[tuple[float, float]]:
        """(bucket start, mean) of a charted value over the window, buckets without it left out."""
        points: list[tuple[float, float]] = []
        for bucket in self.buckets:
            value = bucket.mean(key)
            if value is not None:
                points.append((bucket.start, value))
        return points

    def availability(self, now: float) -> dict[str, Availability]:
        """Each service's up/down/idle/unknown time over the window ending `now`."""
        logged: dict[str, list[Observation]] = {name: [] for name in self.names}
        for event in [*self.carried.values(), *self.events]:
            if event.action == "state" and event.target in logged:
                logged[event.target].append(Observation(event.at, event.status, LOGGED))
            elif event.action == "start" and event.target == "orchestrator":
                for found in logged.values():
                    found.append(Observation(event.at, UNKNOWN, LOGGED))
        start = now - self.window
        shares = {}
        for column, name in enumerate(self.names):
            sampled = self._runs(column, sorted(o.at for o in logged[name]))
            shares[name] = availability(sampled + logged[name], start, now)
        return shares

    def _runs(self, column: int, breaks: list[float]) -> list[Observation]:
        """A service's sampled states as runs: consecutive samples of one state, no further apart than
        `hold` and with no logged change between them, make one observation that stands from the first
        to the last sample (+ hold). The same time split as one observation per sample, far cheaper."""
        runs: list[Observation] = []
        first = last = 0.0
        state: str | None = None
        position = 0
        for at, states in self.rows:
            current = states[column] if column < len(states) else UNKNOWN
            crossed = False
            while position < len(breaks) and breaks[position] <= at:
                crossed = crossed or breaks[position] > last
                position += 1
            if state is not None and current == state and at - last <= self.hold and not crossed:
                last = at
                continue
            if state is not None:
                runs.append(Observation(first, state, last - first + self.hold))
            first = last = at
            state = current
        if state is not None:
            runs.append(Observation(first, state, last - first + self.hold))
        return runs

    def restarts(self) -> dict[str, int]:
        """Restarts per service in the window, as the orchestrator logged them."""
        counts: dict[str, int] = {}
        last: dict[str, str] = {}
        for event in self.events:
            if event.action != "state":
                continue
            # a crash waits in `backoff`, a hang is `restarting`; one restart may pass through both
            if event.status in _RESTART_STATES and last.get(event.target) not in _RESTART_STATES:
                counts[event.target] = counts.get(event.target, 0) + 1
            last[event.target] = event.status
        return counts

    def incidents(self, limit: int = 20) -> list[Event]:
        """The newest crashes, hangs and crash loops in the window."""
        found = [
            e
            for e in self.events
            if (e.action == "state" and e.status in ("backoff", "restarting", "fatal", "exited"))
            or (e.action == "restart" and e.status in ("attempting", "failed"))
        ]
        return found[-limit:]
