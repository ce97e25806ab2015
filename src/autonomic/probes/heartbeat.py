"""Heartbeat probe: a file the service touches (or appends a record to) is fresh within `max_age`,
and was touched by the current process (not left fresh by the one before it)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from autonomic.probes.base import ProbeResult
from autonomic.probes.spec import ProbeSpec


@dataclass(frozen=True)
class HeartbeatProbe:
    path: str
    max_age: float = 60.0
    timeout: float = 2.0

    @classmethod
    def from_spec(cls, spec: ProbeSpec) -> HeartbeatProbe:
        return cls(str(spec.target), spec.max_age, spec.timeout)

    async def check(self, pid: int | None = None, since: float | None = None) -> ProbeResult:
        try:
            mtime = os.stat(self.path).st_mtime
            age = time.time() - mtime
        except FileNotFoundError:
            return ProbeResult(False, f"heartbeat {self.path}: missing")
        except OSError as exc:
            return ProbeResult(False, f"heartbeat {self.path}: {exc.strerror or exc}")
        if since is not None and mtime < since - 1.0:
            return ProbeResult(False, f"heartbeat {self.path}: not touched since the process started")
        if age > self.max_age:
            return ProbeResult(False, f"heartbeat {self.path}: stale ({age:.0f}s > {self.max_age:.0f}s)")
        return ProbeResult(True, f"heartbeat {self.path}: {max(age, 0.0):.1f}s old")
