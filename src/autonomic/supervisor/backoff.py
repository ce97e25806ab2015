"""Restart delays: capped, jittered exponential backoff, reset after a stable run, with a cool-down
instead of a permanent give-up. Floors keep any plan from making the orchestrator spin: a run counts as
stable only after `MIN_STABLE` seconds, restarts in a row are at least `MIN_SPACING` apart, and a
cool-down lasts at least `MIN_COOLDOWN`."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from autonomic.supervisor.spec import BackoffSpec

MIN_SPACING = 0.1
MIN_STABLE = 1.0
MIN_COOLDOWN = 1.0


@dataclass(frozen=True)
class Decision:
    delay: float
    fatal: bool
    streak: int


class Backoff:
    """Counts failures in a row. `record_failure(uptime)` says how long to wait before the next start.
    The `max_failures`-th failure in a row makes the service fatal for `cooldown`."""

    def __init__(self, spec: BackoffSpec, rng: Callable[[], float] = random.random) -> None:
        self.spec = spec
        self.streak = 0
        self._rng = rng

    def record_failure(self, uptime: float) -> Decision:
        """A failure after `uptime` seconds of running. A stable run (>= reset_after) restarts at once."""
        if uptime >= max(self.spec.reset_after, MIN_STABLE):
            self.streak = 0
        self.streak += 1
        if self.streak >= max(self.spec.max_failures, 1):
            streak, self.streak = self.streak, 0
            return Decision(max(self.spec.cooldown, MIN_COOLDOWN), fatal=True, streak=streak)
        return Decision(self._delay(self.streak), fatal=False, streak=self.streak)

    def reset(self) -> None:
        self.streak = 0

    def _delay(self, streak: int) -> float:
        if streak <= 1:
            return 0.0
        cap = max(self.spec.max, MIN_SPACING)
        base = min(cap, max(self.spec.initial, MIN_SPACING) * 2.0 ** (streak - 2))
        return max(MIN_SPACING, min(cap, base * (0.8 + 0.4 * float(self._rng()))))
