"""The `[watchdog]` table of autonomic.toml: the Self-Healing Watchdog (core service `watchdog`)."""

from __future__ import annotations

import sys

from pydantic import BaseModel, ConfigDict, Field

from autonomic.supervisor.spec import ProbeKind, ProbeSpec, ServiceSpec
from autonomic.values import PositiveDuration, Size
from autonomic.workspace import Workspace


class WatchdogSettings(BaseModel):
    """How often the watchdog looks at the orchestrator and every service, and how patient it is."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    interval: PositiveDuration = Field(30.0, ge=1.0, le=86400.0)
    """One look every interval (the original design looked every 5 minutes: "5m" is a valid setting)."""
    timeout: PositiveDuration = Field(5.0, le=120.0)
    """How long the orchestrator gets to answer a ping; two unanswered looks in a row count as hung."""
    log_max_size: Size = Field(5 * 1024 * 1024, ge=64 * 1024)
    """outputs/watchdog_log.jsonl rotates to `.1` past this size."""


HEARTBEAT_MAX_AGE = 30.0
"""The watchdog touches its heartbeat every 5 s at most (whatever its interval): 30 s is six beats."""


def service_spec(settings: WatchdogSettings, workspace: Workspace) -> ServiceSpec:
    """The core service `watchdog` in the orchestrator's plan: the lean `python -m autonomic.watchdog`,
    its settings on the command line, probed by its heartbeat."""
    argv = [
        sys.executable, "-m", "autonomic.watchdog", "--workspace", str(workspace.root),
        "--interval", f"{settings.interval:g}", "--timeout", f"{settings.timeout:g}",
        "--log-max-bytes", str(settings.log_max_size),
    ]  # fmt: skip
    probe = ProbeSpec(
        ProbeKind.HEARTBEAT,
        str(workspace.heartbeat_file("watchdog")),
        interval=5.0,
        failures=3,
        max_age=HEARTBEAT_MAX_AGE,
    )
    return ServiceSpec(
        name="watchdog",
        argv=argv,
        cwd=str(workspace.root),
        core=True,
        probe=probe,
        stop_timeout=10.0,
        ready_timeout=30.0,
    )
