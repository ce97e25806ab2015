"""The control protocol between the CLI and the orchestrator: one JSON object a line each way.

A request is `{"secret": ..., "command": <Command>, ...fields}`; a reply is `{"ok": true, ...}` or
`{"ok": false, "error": "<one line>", "code": <ErrorCode>}`. Status replies carry `ServiceStatus`
records whose `state` is a `ServiceState` (the one vocabulary the CLI shows, `orphaned` included).
Both halves build and read messages only through this module, so the shapes cannot drift apart."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any

from autonomic.supervisor.state import ServiceState


class Command(StrEnum):
    PING = "ping"
    STATUS = "status"
    RELOAD = "reload"  # read .autonomic/plan.json again and make the running set match it
    START = "start"
    STOP = "stop"
    RESTART = "restart"
    SHUTDOWN = "shutdown"  # stop every service (dependents first), then exit; `leave_running` skips the stop

    @property
    def names_a_service(self) -> bool:
        return self in (Command.START, Command.STOP, Command.RESTART)


class ErrorCode(StrEnum):
    BAD_REQUEST = "bad-request"  # not JSON, not an object, unknown command
    NOT_AUTHORISED = "not-authorised"
    UNKNOWN_SERVICE = "unknown-service"
    FAILED = "failed"  # the command was understood but could not be carried out


@dataclass(frozen=True)
class ProbeStatus:
    ok: bool
    detail: str
    at: float | None = None


@dataclass(frozen=True)
class ServiceStatus:
    """One service as `status` shows it. `wanted` says whether it is meant to run; `reason` qualifies
    the state (`restarting (hung)`); `retry_at` is when a backoff or a fatal cool-down ends (epoch);
    `blocked` is a cause that waiting will not cure (its port is held by another process);
    `problems` are conditions the supervision works around (an unwritable log, a damaged record)."""

    name: str
    state: ServiceState
    pid: int | None = None
    uptime: float | None = None
    restarts: int | None = None
    since: float | None = None
    detail: str = ""
    last_probe: ProbeStatus | None = None
    last_exit: int | None = None
    adopted: bool = False
    core: bool = False
    after: list[str] = field(default_factory=list)
    wanted: bool = False
    reason: str | None = None
    retry_at: float | None = None
    blocked: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def shown_state(self) -> str:
        return f"{self.state.value} ({self.reason})" if self.reason else self.state.value

    @property
    def settled(self) -> bool:
        """Nothing more will happen without a new failure: running, or deliberately not running."""
        if self.state is ServiceState.RUNNING:
            return True
        if self.state in (ServiceState.STOPPED, ServiceState.EXITED):
            return not self.wanted or self.state is ServiceState.EXITED
        return False

    @property
    def failed(self) -> str | None:
        """Why waiting for this service is pointless, or None: fatal, or blocked by someone else."""
        if self.state is ServiceState.FATAL:
            return self.detail or "fatal"
        return self.blocked

    def to_dict(self) -> dict[str, Any]:
        raw = asdict(self)
        raw["state"] = self.state.value
        raw["shown_state"] = self.shown_state
        return raw

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ServiceStatus:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in raw.items() if k in known}
        values["state"] = ServiceState(raw["state"])
        probe = raw.get("last_probe")
        values["last_probe"] = ProbeStatus(**probe) if isinstance(probe, dict) else None
        return cls(**values)


@dataclass(frozen=True)
class OrchestratorStatus:
    pid: int
    started_at: float
    uptime: float
    root: str
    problems: list[str] = field(default_factory=list)
    preparing: bool = False  # the `before` jobs still run: no service has been started yet

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> OrchestratorStatus:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})


@dataclass(frozen=True)
class StatusReply:
    """The whole picture. `orchestrator` is None when none runs (then the services come from the config
    and the process records on disk, and `ok` is False)."""

    orchestrator: OrchestratorStatus | None
    services: list[ServiceStatus]

    @property
    def ok(self) -> bool:
        return self.orchestrator is not None

    def service(self, name: str) -> ServiceStatus | None:
        return next((s for s in self.services if s.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "orchestrator": None if self.orchestrator is None else asdict(self.orchestrator),
            "services": [s.to_dict() for s in self.services],
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> StatusReply:
        orchestrator = raw.get("orchestrator")
        return cls(
            OrchestratorStatus.from_dict(orchestrator) if isinstance(orchestrator, dict) else None,
            [ServiceStatus.from_dict(s) for s in raw.get("services", [])],
        )


def ok(**payload: Any) -> dict[str, Any]:
    return {"ok": True, **payload}


def error(message: str, code: ErrorCode = ErrorCode.FAILED) -> dict[str, Any]:
    return {"ok": False, "error": message, "code": code.value}


class RequestError(Exception):
    """Raised by a handler to answer `{"ok": false}` with a code (an unknown service, a bad request)."""

    def __init__(self, message: str, code: ErrorCode = ErrorCode.FAILED) -> None:
        super().__init__(message)
        self.code = code
