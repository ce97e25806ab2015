"""What the orchestrator is told to run: plain data shared by the CLI (which resolves the config into it)
and the orchestrator (which only reads it, so it never has to import the config machinery)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from autonomic.probes.spec import ProbeKind, ProbeSpec
from autonomic.supervisor.jobs import JobSpec

__all__ = ["BackoffSpec", "JobSpec", "Plan", "ProbeKind", "ProbeSpec", "RestartPolicy", "ServiceSpec"]


class RestartPolicy(StrEnum):
    ALWAYS = "always"
    ON_FAILURE = "on-failure"
    NEVER = "never"


@dataclass(frozen=True)
class BackoffSpec:
    """Restart delays: the first failure after a stable run restarts at once; each further failure in a row
    waits `initial * 2**(n-2)` (capped at `max`, jittered +-20 %). After `max_failures` in a row the
    service is `fatal` for `cooldown`, then tried again from scratch: never a permanent give-up."""

    initial: float = 0.5
    max: float = 30.0
    reset_after: float = 10.0
    max_failures: int = 8
    cooldown: float = 300.0


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    argv: list[str]
    cwd: str
    env: dict[str, str] = field(default_factory=dict)
    after: list[str] = field(default_factory=list)
    probe: ProbeSpec | None = None
    restart: RestartPolicy = RestartPolicy.ALWAYS
    backoff: BackoffSpec = field(default_factory=BackoffSpec)
    stop_signal: str = "SIGTERM"
    stop_timeout: float = 10.0
    ready_timeout: float = 60.0
    autostart: bool = True
    core: bool = False

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ServiceSpec:
        probe = raw.get("probe")
        return cls(
            **{
                **raw,
                "probe": ProbeSpec.from_dict(probe) if probe else None,
                "restart": RestartPolicy(raw.get("restart", "always")),
                "backoff": BackoffSpec(**raw.get("backoff", {})),
            }
        )


@dataclass(frozen=True)
class Plan:
    """Everything one orchestrator runs for one workspace."""

    root: str
    services: list[ServiceSpec]
    log_max_bytes: int = 10 * 1024 * 1024
    log_keep: int = 5
    jobs: list[JobSpec] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Plan:
        return cls(
            root=raw["root"],
            services=[ServiceSpec.from_dict(s) for s in raw["services"]],
            log_max_bytes=raw.get("log_max_bytes", 10 * 1024 * 1024),
            log_keep=raw.get("log_keep", 5),
            jobs=[JobSpec.from_dict(j) for j in raw.get("jobs", [])],
        )

    def service(self, name: str) -> ServiceSpec | None:
        return next((s for s in self.services if s.name == name), None)
