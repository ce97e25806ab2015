"""The health gate after an upgrade: every service it touched must reach `running`, with its probe
passing, within the timeout, and stay so (same pid) for a settle period. A service that exits, hangs
or goes fatal after the upgrade fails the gate at once instead of running the clock out."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from autonomic.clock import Clock, SystemClock

StatusSource = Callable[[], list[dict[str, Any]]]
_POLL = 0.2
_FAILED_STATES = frozenset({"fatal", "exited"})  # "stopped" is also what a restart passes through


@dataclass(frozen=True)
class Baseline:
    """What a service looked like just after the upgrade restarted it: any further restart is a failure."""

    restarts: int | None = None


class HealthGate:
    def __init__(
        self,
        status: StatusSource,
        clock: Clock | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.status = status
        self.clock = clock or SystemClock()
        self.sleep = sleep

    def wait(self, baselines: dict[str, Baseline], timeout: float, settle: float) -> dict[str, str]:
        """Wait until every named service is healthy; returns {service: why} for those that are not
        (empty when all passed)."""
        deadline = self.clock.monotonic() + timeout
        healthy_since: dict[str, tuple[int | None, float]] = {}
        problems: dict[str, str] = {}
        while True:
            now = self.clock.monotonic()
            by_name = {s["name"]: s for s in self.status()}
            problems = {}
            for name, baseline in baselines.items():
                why = self._judge(by_name.get(name), baseline, healthy_since, now, settle)
                if why:
                    problems[name] = why
            fatal = {n: w for n, w in problems.items() if w.startswith("failed:")}
            if fatal:
                return fatal
            if not problems:
                return {}
            if now >= deadline:
                return {n: f"not healthy after {timeout:g}s: {w}" for n, w in problems.items()}
            self.sleep(_POLL)

    def _judge(
        self,
        service: dict[str, Any] | None,
        baseline: Baseline,
        healthy_since: dict[str, tuple[int | None, float]],
        now: float,
        settle: float,
    ) -> str:
        if service is None:
            return "failed: not in the orchestrator's plan"
        name, state, pid = service["name"], service["state"], service.get("pid")
        restarts = service.get("restarts")
        if baseline.restarts is not None and restarts is not None and restarts > baseline.restarts:
            exit_code = service.get("last_exit")
            return f"failed: it stopped after the upgrade ({_detail(service, exit_code)})"
        if state in _FAILED_STATES:
            return f"failed: {state} ({_detail(service, service.get('last_exit'))})"
        probe = service.get("last_probe")
        if state != "running" or (probe is not None and not probe.get("ok")):
            healthy_since.pop(name, None)
            return f"{state}" + (f" ({service.get('detail')})" if service.get("detail") else "")
        seen = healthy_since.get(name)
        if seen is None or seen[0] != pid:
            healthy_since[name] = (pid, now)
            seen = healthy_since[name]
        if now - seen[1] < settle:
            return f"running for {now - seen[1]:.1f}s of the {settle:g}s settle period"
        return ""


def _detail(service: dict[str, Any], exit_code: Any) -> str:
    parts = [str(service.get("detail") or "").strip()]
    if exit_code is not None:
        parts.append(f"exit code {exit_code}")
    return "; ".join(p for p in parts if p) or "no detail"
