"""The `[worker]` table of autonomic.toml."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from autonomic.values import Capability, Duration, Lease, PositiveDuration, PositiveWait

DEFAULT_PREFETCH = 4


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
    prefetch: int = Field(DEFAULT_PREFETCH, ge=0, le=1000)
    """Tasks held in reserve per slot beyond the running ones (Celery's prefetch multiplier): claimed
    in one request, started the moment a slot frees. 0 claims only for free slots (long tasks)."""
    allow: list[Capability] = Field(default_factory=list)
    task_timeout: PositiveDuration = 300.0
    server: str | None = None
    """Another host's queue server ("http://host:8091"); default: this workspace's [queue]."""
    types: list[str] = Field(default_factory=list)
    """Claim only these task types (default: every type this worker has an allowed handler for)."""
    lease: Lease = 60.0
    """The lease asked for on each claim; a held task's lease is extended before a third of it is left."""
    poll_wait: PositiveWait = 55.0
    """How long one claim request waits on the server for a task (long-poll; the server caps it at its
    [queue] max_wait). An idle worker sends one request per poll_wait, nothing in between."""
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
        if self.server is not None and not self.server.startswith(("http://", "https://")):
            raise ValueError(f"server must be an http:// or https:// URL, got {self.server!r}")
        for pattern in self.python_modules:
            if not pattern or pattern.startswith(".") or pattern.endswith(".") or pattern == "*":
                raise ValueError(f"python_modules: {pattern!r} is not a module name or 'package.*'")
        if any(not pattern.strip() for pattern in self.shell_commands):
            raise ValueError("shell_commands: an empty pattern would match nothing useful")
        return self
