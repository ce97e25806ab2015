"""Process probe: the service's main process is alive (not a zombie)."""

from __future__ import annotations

from dataclasses import dataclass

from autonomic.platform.base import is_alive
from autonomic.probes.base import ProbeResult
from autonomic.probes.spec import ProbeSpec


@dataclass(frozen=True)
class ProcessProbe:
    timeout: float = 1.0

    @classmethod
    def from_spec(cls, spec: ProbeSpec) -> ProcessProbe:
        return cls(spec.timeout)

    async def check(self, pid: int | None = None, since: float | None = None) -> ProbeResult:
        if pid is None:
            return ProbeResult(False, "process: not started")
        if is_alive(pid):
            return ProbeResult(True, f"process {pid}: alive")
        return ProbeResult(False, f"process {pid}: not running")
