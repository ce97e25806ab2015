"""TCP probe: the port accepts a connection within the timeout."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

from autonomic.probes.base import ProbeResult
from autonomic.probes.spec import ProbeSpec


@dataclass(frozen=True)
class TcpProbe:
    host: str
    port: int
    timeout: float = 2.0

    @classmethod
    def from_spec(cls, spec: ProbeSpec) -> TcpProbe:
        host, _, port = str(spec.target).rpartition(":")
        return cls(host.strip("[]"), int(port), spec.timeout)

    async def check(self, pid: int | None = None, since: float | None = None) -> ProbeResult:
        started = time.monotonic()
        target = f"{self.host}:{self.port}"
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), self.timeout)
        except TimeoutError:
            return ProbeResult(False, f"tcp {target}: timed out", time.monotonic() - started)
        except OSError as exc:
            return ProbeResult(False, f"tcp {target}: {exc.strerror or exc}", time.monotonic() - started)
        writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), self.timeout)
        return ProbeResult(True, f"tcp {target}: open", time.monotonic() - started)
