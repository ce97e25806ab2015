"""The `[queue]` table of autonomic.toml."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from autonomic.units import parse_duration, parse_size

Duration = Annotated[float, BeforeValidator(parse_duration)]
Size = Annotated[int, BeforeValidator(parse_size)]

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
    port: int = Field(8091, ge=1, le=65535)
    bind: str = "127.0.0.1"
    require_token: bool = True
    store: str | None = None
    allowed_hosts: list[str] = Field(default_factory=list)
    allowed_origins: list[str] = Field(default_factory=list)
    max_body: Size = 1024 * 1024
    lease: Duration = 120.0
    max_attempts: int = Field(5, ge=1)
    retry_delay: Duration = 1.0
    results_max_age: Duration = 7 * 86400.0
    results_max_count: int = Field(10_000, ge=1)

    @model_validator(mode="after")
    def _token_off_only_on_loopback(self) -> QueueSettings:
        if not self.require_token and not is_loopback(self.bind):
            raise ValueError(
                f"require_token = false is only allowed with a loopback bind, not bind = {self.bind!r}"
            )
        return self
