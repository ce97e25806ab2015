"""What every probe is: an async check that says ok or not, and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    detail: str
    elapsed: float = 0.0


class Probe(Protocol):
    @property
    def timeout(self) -> float: ...

    async def check(self, pid: int | None = None, since: float | None = None) -> ProbeResult:
        """One look at the service (whose main process is `pid`, started at epoch `since`, when known)."""
