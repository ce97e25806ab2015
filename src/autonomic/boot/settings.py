"""`[boot]` in autonomic.toml: whether the orchestrator should be registered to start at logon, and how."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from autonomic.values import Duration, PositiveDuration


class BootSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    """`autonomic health --fix` (re-)registers the boot entry when this is true."""
    delay: Duration = Field(30.0, le=3600.0)
    """How long after logon the orchestrator starts (0: at once)."""
    restart_after: PositiveDuration = Field(5.0, le=3600.0)
    """How soon the OS restarts an orchestrator that died (systemd `RestartSec`, Task Scheduler's
    restart interval, rounded up to its one-minute minimum)."""
