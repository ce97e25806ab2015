"""The `[monitor]` table of autonomic.toml: the Monitoring Daemon (core service `monitor`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from autonomic.values import Duration, Port, PositiveDuration, Size


class AlertSettings(BaseModel):
    """`[monitor.alerts]`: thresholds (the original's defaults plus system ones), how long a condition
    must hold before it alerts (`for`), and how long before the same alert may fire again (`cooldown`)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    error_rate: float = Field(0.20, ge=0, le=1)  # critical above this share of failed tasks
    success_rate: float = Field(0.80, ge=0, le=1)  # warning below this
    avg_response_ms: float = Field(1000.0, gt=0)  # warning above this
    queue_size: int = Field(50, ge=0)  # info above this many pending tasks
    disk_percent: float = Field(90.0, gt=0, le=100)
    memory_percent: float = Field(90.0, gt=0, le=100)
    restarts_per_hour: int = Field(5, ge=1)  # a service restarting more often than this
    backlog_growing: PositiveDuration = 600.0  # pending tasks rising this long
    backup_max_age: PositiveDuration = 26 * 3600.0  # the last good backup older than this
    hold: Duration = Field(30.0, alias="for")  # a condition must hold this long before it alerts
    cooldown: PositiveDuration = 900.0  # after an alert resolves, the same alert is quiet this long


class MonitorSettings(BaseModel):
    """The Monitoring Daemon: sampling, reports, alerts, the live dashboard and /metrics."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    interval: PositiveDuration = 10.0  # one sample every interval
    report_every: PositiveDuration = 60.0  # the four report files are rewritten this often
    port: Port = 8092
    bind: str = "127.0.0.1"
    allowed_hosts: list[str] = Field(default_factory=list)
    allowed_origins: list[str] = Field(default_factory=list)
    notify: bool = False  # desktop notifications for alerts (notify-send, osascript, a Windows toast)
    keep_days: int = Field(14, ge=1, le=3650)  # rotated daily sample files kept this many days
    max_size: Size = Field(50 * 1024 * 1024, ge=64 * 1024)  # all sample files together stay under this
    alerts: AlertSettings = Field(default_factory=AlertSettings)

    @model_validator(mode="after")
    def _report_not_faster_than_samples(self) -> MonitorSettings:
        if self.report_every < self.interval:
            raise ValueError("report_every must not be shorter than interval")
        return self

    @property
    def url(self) -> str:
        """Where a browser on this machine reaches the dashboard (a wildcard bind is reached on loopback)."""
        host = "127.0.0.1" if self.bind in ("0.0.0.0", "", "::") else self.bind.strip("[]")
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"
