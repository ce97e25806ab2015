"""The `[worker]` table of autonomic.toml."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from autonomic.units import parse_duration

Duration = Annotated[float, BeforeValidator(parse_duration)]
Capability = Literal["browser", "desktop-input", "shell", "python", "http"]


class WorkerSettings(BaseModel):
    """The RPA Worker (core service `worker`). Risky capabilities are off until listed in `allow`.

    A task type whose capability is not allowed is never claimed (another worker may be allowed to
    run it); a desktop *action* that is not allowed (click/type/hotkey, open_browser on a non-http
    URL) fails with a message naming the missing capability.
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    name: str | None = None
    concurrency: int = Field(2, ge=1, le=256)
    allow: list[Capability] = Field(default_factory=list)
    task_timeout: Duration = 300.0
    server: str | None = None
    types: list[str] = Field(default_factory=list)
    """Claim only these task types (default: every type this worker has an allowed handler for)."""
    lease: Duration = Field(60.0, gt=0)
    """The lease asked for on each claim; a running task's lease is extended every third of it."""
    poll_wait: Duration = Field(20.0, ge=0)
    """How long one claim request waits on the server for a task (long-poll)."""
    drain_timeout: Duration = 20.0
    """On SIGTERM: how long running tasks may take to finish before they are released."""
    python_modules: list[str] = Field(default_factory=list)
    """Modules `python` tasks may call into: "pkg.module", or "pkg.*" for a whole package."""
    shell_commands: list[str] = Field(default_factory=list)
    """Glob patterns a `shell` command line must match, e.g. "git status*" (no shell is involved)."""
    file_dirs: list[str] = Field(default_factory=list)
    """Folders besides outputs/ that screenshot, OCR and browser files may be read from or written to."""
    browser_executable: str | None = None
    """Chromium for `browser` tasks; default: found on PATH (chromium, chromium-browser, google-chrome)."""
    browser_headless: bool = True
    attach_screenshot_on_error: bool = False
    """Save a screen capture beside a failed desktop task (its path goes in the result, never the image)."""

    @model_validator(mode="after")
    def _check(self) -> WorkerSettings:
        for pattern in self.python_modules:
            if not pattern or pattern.startswith(".") or pattern.endswith(".") or pattern == "*":
                raise ValueError(f"python_modules: {pattern!r} is not a module name or 'package.*'")
        if any(not pattern.strip() for pattern in self.shell_commands):
            raise ValueError("shell_commands: an empty pattern would match nothing useful")
        return self
