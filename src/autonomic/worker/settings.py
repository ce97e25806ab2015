"""The `[worker]` table of autonomic.toml."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from autonomic.units import parse_duration

Duration = Annotated[float, BeforeValidator(parse_duration)]
Capability = Literal["browser", "desktop-input", "shell", "python", "http"]


class WorkerSettings(BaseModel):
    """The RPA Worker (core service `worker`). Risky capabilities are off until listed in `allow`."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    name: str | None = None
    concurrency: int = Field(2, ge=1, le=256)
    allow: list[Capability] = Field(default_factory=list)
    task_timeout: Duration = 300.0
    server: str | None = None
