"""`autonomic.toml`, validated into typed objects and resolved into the orchestrator's `Plan`.

Every error names the file, the key and what was expected, as one line, and raises `ConfigError`.
"""

from __future__ import annotations

import os
import shlex
import sys
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from autonomic.backup.settings import BackupSettings
from autonomic.boot.flow import overdue_backup_jobs
from autonomic.boot.settings import BootSettings
from autonomic.errors import ConfigError
from autonomic.monitor.settings import MonitorSettings
from autonomic.queue.settings import QueueSettings
from autonomic.supervisor.jobs import JobSpec
from autonomic.supervisor.spec import BackoffSpec, Plan, ProbeKind, ProbeSpec, RestartPolicy, ServiceSpec
from autonomic.upgrade.settings import UpgradeSettings
from autonomic.values import Duration, PositiveDuration, Size
from autonomic.watchdog.settings import WatchdogSettings
from autonomic.watchdog.settings import service_spec as watchdog_spec
from autonomic.worker.settings import WorkerSettings
from autonomic.workspace import Workspace

CORE_SERVICES = ("queue", "worker", "monitor", "watchdog")
_SIGNALS = ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGKILL")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HealthConfig(_Strict):
    """One probe: exactly one of http, tcp, heartbeat, command, process."""

    http: str | None = None
    tcp: str | None = None
    heartbeat: str | None = None
    command: list[str] | str | None = None
    process: bool | None = None
    interval: PositiveDuration = Field(5.0, le=86400)
    timeout: PositiveDuration = Field(2.0, le=3600)
    failures: int = Field(3, ge=1, le=1000)
    status: int | list[int] | None = None
    max_age: PositiveDuration = Field(60.0, le=7 * 86400)

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> HealthConfig:
        kinds = [k for k in ProbeKind if getattr(self, k.value) not in (None, False)]
        if len(kinds) != 1:
            raise ValueError("give exactly one of http, tcp, heartbeat, command, process")
        if self.http is not None and not self.http.startswith(("http://", "https://")):
            raise ValueError(f"http must be a URL starting with http:// or https://, got {self.http!r}")
        if self.tcp is not None:
            host, _, port = self.tcp.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"tcp must be 'host:port', got {self.tcp!r}")
        return self

    def to_spec(self, cwd: str) -> ProbeSpec:
        kind = next(k for k in ProbeKind if getattr(self, k.value) not in (None, False))
        target: str | list[str] = ""
        if kind is ProbeKind.COMMAND:
            target = _argv(self.command or [])
        elif kind is not ProbeKind.PROCESS:
            target = str(getattr(self, kind.value))
        if kind is ProbeKind.HEARTBEAT and not os.path.isabs(str(target)):
            target = os.path.join(cwd, str(target))
        low, high = _status_range(self.status)
        return ProbeSpec(
            kind=kind,
            target=target,
            interval=self.interval,
            timeout=self.timeout,
            failures=self.failures,
            status_min=low,
            status_max=high,
            max_age=self.max_age,
            cwd=cwd,
        )


class BackoffConfig(_Strict):
    # floors: no backoff the config accepts can make the orchestrator restart a service in a tight loop
    initial: Duration = Field(0.5, ge=0.1, le=86400)
    max: Duration = Field(30.0, ge=0.1, le=86400)
    reset_after: Duration = Field(10.0, ge=1.0, le=86400)
    max_failures: int = Field(8, ge=1, le=1000)
    cooldown: Duration = Field(300.0, ge=1.0, le=7 * 86400)


class ServiceConfig(_Strict):
    command: list[str] | str
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    after: list[str] = Field(default_factory=list)
    health: HealthConfig | None = None
    restart: Literal["always", "on-failure", "never"] = "always"
    backoff: BackoffConfig = Field(default_factory=BackoffConfig)
    stop_signal: str = "SIGTERM"
    stop_timeout: PositiveDuration = Field(10.0, le=3600)
    ready_timeout: PositiveDuration = Field(60.0, le=86400)
    autostart: bool = True
    watch: list[str] = Field(default_factory=list)  # paths/globs whose change (in a pull) restarts it

    @model_validator(mode="after")
    def _check(self) -> ServiceConfig:
        if not _argv(self.command):
            raise ValueError("command must not be empty")
        signal_name = self.stop_signal.upper()
        if not signal_name.startswith("SIG"):
            signal_name = "SIG" + signal_name
        if signal_name not in _SIGNALS:
            raise ValueError(f"stop_signal must be one of {', '.join(_SIGNALS)}, got {self.stop_signal!r}")
        self.stop_signal = signal_name
        return self


class LogsConfig(_Strict):
    max_size: Size = 10 * 1024 * 1024
    keep: int = Field(5, ge=1, le=100)


class Config(_Strict):
    queue: QueueSettings = Field(default_factory=QueueSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    monitor: MonitorSettings = Field(default_factory=MonitorSettings)
    logs: LogsConfig = Field(default_factory=LogsConfig)
    backup: BackupSettings = Field(default_factory=BackupSettings)
    boot: BootSettings = Field(default_factory=BootSettings)
    upgrade: UpgradeSettings = Field(default_factory=UpgradeSettings)
    watchdog: WatchdogSettings = Field(default_factory=WatchdogSettings)
    services: dict[str, ServiceConfig] = Field(default_factory=dict)


def load(workspace: Workspace) -> Config:
    """Read and validate the workspace's autonomic.toml."""
    name = workspace.config_file.name
    try:
        raw = tomllib.loads(workspace.config_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{name}: not found in {workspace.root} (run 'autonomic init')") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{name}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: not valid TOML: {exc}") from None
    return parse(raw, name)


def parse(raw: dict[str, Any], name: str = "autonomic.toml") -> Config:
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_first_error(exc, name)) from None
    _check_services(config, name)
    return config


def _first_error(exc: ValidationError, name: str) -> str:
    error = exc.errors()[0]
    loc = ".".join(str(part) for part in error["loc"] if not str(part).startswith(("function-", "union[")))
    loc = _trim_union_loc(loc)
    if error["type"] == "extra_forbidden":
        return f"{name}: {loc}: unknown key"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "missing":
        message = "required key is missing"
    return f"{name}: {loc}: {message}" if loc else f"{name}: {message}"


def _trim_union_loc(loc: str) -> str:
    parts = [p for p in loc.split(".") if p not in {"list[str]", "str", "list[int]", "int"}]
    return ".".join(parts)


def _check_services(config: Config, name: str) -> None:
    known = set(config.services) | {c for c in CORE_SERVICES if _core_enabled(config, c)}
    for service_name, service in config.services.items():
        if service_name in CORE_SERVICES:
            raise ConfigError(
                f"{name}: services.{service_name}: '{service_name}' is a built-in service; "
                f"configure it in the [{service_name}] table"
            )
        if not service_name.replace("-", "").replace("_", "").isalnum():
            raise ConfigError(f"{name}: services.{service_name}: names may hold letters, digits, - and _")
        for dependency in service.after:
            if dependency not in known:
                raise ConfigError(f"{name}: services.{service_name}.after: unknown service '{dependency}'")
    if cycle := _find_cycle({n: s.after for n, s in config.services.items()}):
        raise ConfigError(f"{name}: services: dependency cycle {' -> '.join(cycle)}")


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        if state.get(node) == 1:
            return [*path[path.index(node) :], node]
        if state.get(node) == 2:
            return None
        state[node] = 1
        for nxt in graph.get(node, []):
            if found := visit(nxt, [*path, node]):
                return found
        state[node] = 2
        return None

    for node in graph:
        if found := visit(node, []):
            return found
    return None


def _core_enabled(config: Config, name: str) -> bool:
    return bool(getattr(config, name).enabled)


def _argv(command: list[str] | str) -> list[str]:
    if isinstance(command, str):
        return shlex.split(command, posix=os.name == "posix")
    return list(command)


def _status_range(status: int | list[int] | None) -> tuple[int, int]:
    if status is None:
        return 200, 399
    if isinstance(status, int):
        return status, status
    return min(status), max(status)


# --- resolution into the orchestrator's plan --------------------------------------------------


def core_argv(workspace: Workspace, command: str) -> list[str]:
    """How the orchestrator runs a built-in service: this interpreter, this package, this workspace."""
    return [sys.executable, "-m", "autonomic", command, "--workspace", str(workspace.root)]


def worker_heartbeat(workspace: Workspace) -> Path:
    """The file the worker touches while its loop is alive; the orchestrator's probe reads its age."""
    return workspace.heartbeat_file("worker")


def plan(config: Config, workspace: Workspace) -> Plan:
    """Resolve the validated config into the plain `Plan` the orchestrator runs."""
    root = str(workspace.root)
    services: list[ServiceSpec] = []
    if config.queue.enabled:
        services.append(
            ServiceSpec(
                name="queue",
                argv=core_argv(workspace, "serve"),
                cwd=root,
                core=True,
                probe=ProbeSpec(
                    ProbeKind.HTTP,
                    f"{config.queue.url}/api/health",
                    interval=5.0,
                    timeout=2.0,
                    failures=3,
                ),
                stop_timeout=15.0,
                ready_timeout=30.0,
            )
        )
    if config.worker.enabled:
        services.append(
            ServiceSpec(
                name="worker",
                argv=core_argv(workspace, "worker"),
                cwd=root,
                core=True,
                after=["queue"] if config.queue.enabled and not config.worker.server else [],
                probe=ProbeSpec(
                    ProbeKind.HEARTBEAT,
                    str(worker_heartbeat(workspace)),
                    interval=5.0,
                    failures=3,
                    max_age=30.0,
                ),
                # a stop lets running tasks drain, then releases the rest and sends what results remain
                stop_timeout=max(30.0, config.worker.drain_timeout + 10.0),
                ready_timeout=60.0,
            )
        )
    if config.watchdog.enabled:
        services.append(watchdog_spec(config.watchdog, workspace))
    if config.monitor.enabled:
        services.append(
            ServiceSpec(
                name="monitor",
                # the lean entry point (no typer/rich): the monitor's RSS budget is 60 MB
                argv=[sys.executable, "-m", "autonomic.monitor", "--workspace", root],
                cwd=root,
                core=True,
                probe=ProbeSpec(
                    ProbeKind.HEARTBEAT,
                    str(workspace.heartbeat_file("monitor")),
                    interval=5.0,
                    failures=3,
                    max_age=max(30.0, 3 * config.monitor.interval),
                ),
                stop_timeout=10.0,
                ready_timeout=30.0,
            )
        )
    for name, service in config.services.items():
        cwd = str((workspace.root / service.cwd).resolve()) if service.cwd else root
        services.append(
            ServiceSpec(
                name=name,
                argv=_argv(service.command),
                cwd=cwd,
                env=dict(service.env),
                after=list(service.after),
                probe=service.health.to_spec(cwd) if service.health else None,
                restart=RestartPolicy(service.restart),
                backoff=BackoffSpec(**service.backoff.model_dump()),
                stop_signal=service.stop_signal,
                stop_timeout=service.stop_timeout,
                ready_timeout=service.ready_timeout,
                autostart=service.autostart,
            )
        )
    jobs: list[JobSpec] = config.upgrade.jobs(workspace)  # `before` jobs run in this order: upgrade first
    jobs += overdue_backup_jobs(config.backup, workspace)
    return Plan(
        root=root, services=services, log_max_bytes=config.logs.max_size, log_keep=config.logs.keep, jobs=jobs
    )
