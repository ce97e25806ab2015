"""The `[queue]` table of autonomic.toml."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from autonomic.values import Delay, Duration, Lease, Port, PositiveDuration, PositiveWait, Size

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class QueueSettings(BaseModel):
    """The Task Queue Server (core service `queue`)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    port: Port = 8091
    bind: str = "127.0.0.1"
    require_token: bool = True
    store: str | None = None
    allowed_hosts: list[str] = Field(default_factory=list)
    allowed_origins: list[str] = Field(default_factory=list)
    max_body: Size = 1024 * 1024
    lease: Lease = 120.0
    max_attempts: int = Field(5, ge=1)
    retry_delay: Delay = 1.0
    results_max_age: Duration = 7 * 86400.0
    results_max_count: int = Field(10_000, ge=1)
    # "normal" (SQLite WAL, synchronous=NORMAL): an acknowledged task survives the kill -9 of any process,
    # as huey's and Redis' defaults do. "full" also fsyncs every enqueue and result before answering,
    # so they survive a power cut too, at about 0.2 ms per write on an SSD.
    sync: Literal["full", "normal"] = "normal"
    max_wait: PositiveWait = 60.0  # the longest long-poll a claim or result read may ask for
    max_batch: int = Field(1000, ge=1, le=100_000)  # tasks per batch create, claim or result
    retry_max_delay: Delay = 300.0  # cap of the back-off before an expired task is handed out again
    reap_interval: PositiveDuration = 1.0  # least time between two timer passes (they wake only when due)
    worker_ttl: PositiveDuration = 60.0  # a worker not heard from for this long no longer counts as live
    # after answering a create, claim or result, stay awake this long for the caller's next request
    # instead of sleeping (see queue/server/spin.py); costs CPU only while requests come; 0 = off
    busy_poll: Duration = Field(0.0002, ge=0, le=0.01)
    # dead-lettered tasks are evicted like finished ones; this keeps them longer (or shorter) if set
    dead_max_age: Duration | None = None

    @field_validator("store")
    @classmethod
    def _store_url(cls, value: str | None) -> str | None:
        if value is not None and value.split(":", 1)[0].lower() in ("postgres", "postgresql"):
            from autonomic.queue.store.postgres.url import check  # no driver import: only the URL rules

            check(value)
        return value

    @model_validator(mode="after")
    def _token_off_only_on_loopback(self) -> QueueSettings:
        if not self.require_token and not is_loopback(self.bind):
            raise ValueError(
                f"require_token = false is only allowed with a loopback bind, not bind = {self.bind!r}"
            )
        return self

    @property
    def url(self) -> str:
        """Where a client on this machine reaches the server (a wildcard bind is reached on loopback)."""
        host = "127.0.0.1" if self.bind in ("0.0.0.0", "", "::") else self.bind.strip("[]")
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"
