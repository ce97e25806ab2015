"""Health probes shared by the orchestrator, the watchdog and the health dashboard."""

from __future__ import annotations

from collections.abc import Callable

from autonomic.probes.base import Probe, ProbeResult
from autonomic.probes.command import CommandProbe
from autonomic.probes.heartbeat import HeartbeatProbe
from autonomic.probes.http import HttpProbe
from autonomic.probes.process import ProcessProbe
from autonomic.probes.spec import ProbeKind, ProbeSpec
from autonomic.probes.tcp import TcpProbe


def build(spec: ProbeSpec | None) -> Probe:
    """The probe a spec describes; no spec means "the process is alive"."""
    if spec is None:
        return ProcessProbe()
    factories: dict[ProbeKind, Callable[[ProbeSpec], Probe]] = {
        ProbeKind.HTTP: HttpProbe.from_spec,
        ProbeKind.TCP: TcpProbe.from_spec,
        ProbeKind.HEARTBEAT: HeartbeatProbe.from_spec,
        ProbeKind.COMMAND: CommandProbe.from_spec,
        ProbeKind.PROCESS: ProcessProbe.from_spec,
    }
    return factories[spec.kind](spec)


__all__ = ["Probe", "ProbeKind", "ProbeResult", "ProbeSpec", "build"]
