"""Time as a seam: production code asks a `Clock`, tests pass a `FakeClock` and drive it."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def time(self) -> float: ...


class SystemClock:
    """The real clocks of the machine."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()


class FakeClock:
    """A clock that only moves when a test calls `advance`."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self._now = start

    def monotonic(self) -> float:
        return self._now

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds


def iso_now() -> str:
    """The current local time as ISO 8601 with its UTC offset (the format every log file uses)."""
    return datetime.now(UTC).astimezone().isoformat(timespec="milliseconds")
