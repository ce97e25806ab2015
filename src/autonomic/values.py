"""The annotated value types shared by the config, the HTTP schemas and the stores.

One definition per value: what `autonomic.toml` accepts, the wire accepts too, and the other way
round. Durations are seconds as floats (a number, or "500ms", "30s", "5m", "2d"); sizes are bytes
("10MB"). A bound lives here and nowhere else: `[worker] lease = "2d"` is refused by the config for
the very reason the server would refuse it on a claim. Defaults live with the settings models.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BeforeValidator, Field

from autonomic.units import parse_duration, parse_size

MAX_LEASE = 86400.0
"""The longest lease a claim or an extend may ask for (one day)."""
MAX_WAIT = 3600.0
"""The longest long-poll a request may ask for; the server clamps it to its own `[queue] max_wait`."""
MAX_DELAY = 366 * 86400.0
"""The furthest a task may be scheduled or retried ahead (a year)."""

Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Any non-negative duration in seconds (0 allowed: "no delay")."""

PositiveDuration = Annotated[float, Field(gt=0), BeforeValidator(parse_duration)]
"""A duration that must be above zero (intervals, timeouts): 0 would spin."""

Lease = Annotated[float, Field(gt=0, le=MAX_LEASE), BeforeValidator(parse_duration)]
"""How long a worker holds a claimed task before it is handed out again: above 0, at most a day."""

Wait = Annotated[float, Field(ge=0, le=MAX_WAIT), BeforeValidator(parse_duration)]
"""A long-poll: how long a request may wait for something to happen (0: answer at once)."""

PositiveWait = Annotated[float, Field(gt=0, le=MAX_WAIT), BeforeValidator(parse_duration)]
"""A long-poll bound that must be above zero (the server's `max_wait`)."""

Delay = Annotated[float, Field(ge=0, le=MAX_DELAY), BeforeValidator(parse_duration)]
"""How long before a task may run (a schedule or a retry back-off): at most a year."""

Size = Annotated[int, BeforeValidator(parse_size)]
"""A size in bytes."""

Port = Annotated[int, Field(ge=1, le=65535)]
"""A TCP port."""


class Capability(StrEnum):
    """What a worker must be allowed (`[worker] allow`) before it claims tasks that need it."""

    BROWSER = "browser"
    DESKTOP_INPUT = "desktop-input"
    SHELL = "shell"
    PYTHON = "python"
    HTTP = "http"

    @classmethod
    def words(cls) -> str:
        """The vocabulary as users write it, for messages and the config template."""
        return ", ".join(f'"{capability}"' for capability in cls)
