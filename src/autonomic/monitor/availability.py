"""Availability per service over a window, from two kinds of observation:

- a sample saw the service in some state at `t`; that holds until the next observation, but at most
  `hold` seconds (a gap in the samples longer than that is time nobody watched: unknown);
- the orchestrator logged a state change at `t`; that holds until the next observation, however far
  (the orchestrator logs every change), except that an orchestrator start ends what anyone knew.

`running` (and `orphaned`: alive, unsupervised) is up; `stopped` (not meant to run: never started,
or stopped by the user) counts neither way; every other state (backoff, restarting, fatal, exited,
starting, waiting, stopping) is down. Availability is up time over up + down time; unknown time is
reported, never guessed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

UP_STATES = frozenset({"running", "orphaned"})  # orphaned: alive, only nobody supervises it
IDLE_STATES = frozenset({"stopped"})
UNKNOWN = ""  # the state of "nobody knows" (an orchestrator restart, or no observation yet)


@dataclass(frozen=True)
class Observation:
    at: float
    state: str  # UNKNOWN for "nobody knows from here on"
    hold: float  # how long it may stand without a newer observation (math.inf for logged changes)


@dataclass(frozen=True)
class Availability:
    up: float
    down: float
    idle: float
    unknown: float

    @property
    def percent(self) -> float | None:
        """Up time over watched up+down time, in percent; None if the service was never seen."""
        watched = self.up + self.down
        return None if watched <= 0 else 100.0 * self.up / watched


def availability(observations: list[Observation], start: float, end: float) -> Availability:
    """Split [start, end] into up, down, idle and unknown time from `observations` (any order)."""
    ordered = sorted(observations, key=lambda o: o.at)
    totals = {"up": 0.0, "down": 0.0, "idle": 0.0}
    known = 0.0
    for i, obs in enumerate(ordered):
        next_at = ordered[i + 1].at if i + 1 < len(ordered) else end
        stop = min(next_at, obs.at + obs.hold, end)
        begin = max(obs.at, start)
        if stop <= begin or obs.state == UNKNOWN:
            continue
        span = stop - begin
        known += span
        totals[_kind(obs.state)] += span
    unknown = max(0.0, (end - start) - known)
    return Availability(totals["up"], totals["down"], totals["idle"], unknown)


def _kind(state: str) -> str:
    if state in UP_STATES:
        return "up"
    if state in IDLE_STATES:
        return "idle"
    return "down"


LOGGED = math.inf
