"""What a health probe is, as plain data: the orchestrator, the watchdog and the health checks all
build their probes from a `ProbeSpec` (and nothing here knows about the supervisor)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ProbeKind(StrEnum):
    HTTP = "http"
    TCP = "tcp"
    HEARTBEAT = "heartbeat"
    COMMAND = "command"
    PROCESS = "process"


@dataclass(frozen=True)
class ProbeSpec:
    """A health probe. `target` is a URL (http), host:port (tcp), a path (heartbeat) or an argv (command)."""

    kind: ProbeKind
    target: str | list[str] = ""
    interval: float = 5.0
    timeout: float = 2.0
    failures: int = 3
    status_min: int = 200
    status_max: int = 399
    max_age: float = 60.0
    cwd: str = ""

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ProbeSpec:
        return cls(**{**raw, "kind": ProbeKind(raw["kind"])})
