"""Command probe: a command that exits 0 within the timeout. Killed with its group when it overruns."""

from __future__ import annotations

import asyncio
import subprocess
import time
from dataclasses import dataclass, field

from autonomic import platform
from autonomic.probes.base import ProbeResult
from autonomic.probes.spec import ProbeSpec


@dataclass(frozen=True)
class CommandProbe:
    argv: list[str]
    cwd: str | None = None
    timeout: float = 5.0
    env: dict[str, str] | None = field(default=None)

    @classmethod
    def from_spec(cls, spec: ProbeSpec) -> CommandProbe:
        argv = spec.target if isinstance(spec.target, list) else [spec.target]
        return cls(list(argv), spec.cwd or None, spec.timeout)

    async def check(self, pid: int | None = None, since: float | None = None) -> ProbeResult:
        started = time.monotonic()
        shown = " ".join(self.argv)
        os_seam = platform.current()
        try:
            proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                **os_seam.detached_popen_kwargs(),
            )
        except OSError as exc:
            return ProbeResult(False, f"command {shown}: {exc.strerror or exc}")
        try:
            await asyncio.wait_for(os_seam.wait_exit(proc.pid), self.timeout)
        except TimeoutError:
            os_seam.kill_group(proc.pid)
            await asyncio.to_thread(proc.wait)
            return ProbeResult(
                False, f"command {shown}: timed out after {self.timeout:g}s", time.monotonic() - started
            )
        code = await asyncio.to_thread(proc.wait)
        return ProbeResult(code == 0, f"command {shown}: exit {code}", time.monotonic() - started)
