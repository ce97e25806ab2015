"""Restart delays: capped, jittered exponential backoff, reset after a stable run, with a cool-down
instead of a permanent give-up."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from autonomic.supervisor.spec import BackoffSpec


@dataclass(frozen=True)
class Decision:
    delay: float
    fatal: bool
    streak: int


class Backoff:
    """Counts failures in a row. `record_failure(uptime)` says how long to wait before the next start."""

    def __init__(self, spec: BackoffSpec, rng: Callable[[], float] = random.random) -> None:
        self.spec = spec
        self.streak = 0
        self._rng = rng

    def record_failure(self, uptime: float) -> Decision:
        """A failure after `uptime` seconds of running. A stable run (>= reset_after) restarts at once."""
        if uptime >= self.spec.reset_after:
            self.streak = 0
        self.streak += 1
        if self.streak > self.spec.max_failures:
            streak, self.streak = self.streak, 0
            return Decision(self.spec.cooldown, fatal=True, streak=streak)
        return Decision(self._delay(self.streak), fatal=False, streak=self.streak)

    def reset(self) -> None:
        self.streak = 0

    def _delay(self, streak: int) -> float:
        if streak <= 1:
            return 0.0
        base = min(self.spec.max, self.spec.initial * 2.0 ** (streak - 2))
        return min(self.spec.max, base * (0.8 + 0.4 * float(self._rng())))
