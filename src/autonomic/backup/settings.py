"""The `[backup]` table of autonomic.toml: when the daily snapshot runs, what it holds, how long it lives."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from autonomic.values import Size

_AT = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class BackupSettings(BaseModel):
    """Daily snapshots of the workspace's configs, key outputs, recent logs, queue state and git state."""

    model_config = ConfigDict(extra="forbid")

    at: str = "03:30"  # local time of the daily run, "HH:MM"
    keep_days: int = Field(14, ge=1, le=3650)
    keep_daily: int | None = Field(None, ge=1, le=3650)  # also keep the newest snapshot of N more days
    keep_weekly: int | None = Field(None, ge=1, le=520)  # also keep the newest snapshot of N more weeks
    include: list[str] = Field(default_factory=list)  # extra globs (relative to the workspace) into configs/
    exclude: list[str] = Field(default_factory=list)  # globs never copied, whatever set they fall in
    dir: str = "backups"  # relative to the workspace, or absolute (another disk)
    schedule: bool = True  # `autonomic backup schedule register` / health check 6 expect a daily entry
    log_days: int = Field(7, ge=1, le=3650)  # logs modified within this many days are copied
    max_file_size: Size = Field(512 * 1024 * 1024, gt=0)  # bigger files are skipped (and listed as skipped)
    hardlink: bool = True  # share unchanged files with the previous snapshot

    @field_validator("at")
    @classmethod
    def _valid_time(cls, value: str) -> str:
        match = _AT.match(value.strip())
        if match is None:
            raise ValueError(f"expected a time of day as HH:MM (24 h), got {value!r}")
        return f"{int(match.group(1)):02d}:{match.group(2)}"

    @field_validator("dir")
    @classmethod
    def _non_empty_dir(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a folder")
        return value

    @field_validator("include", "exclude")
    @classmethod
    def _relative_globs(cls, value: list[str]) -> list[str]:
        for pattern in value:
            if not pattern.strip():
                raise ValueError("empty glob")
            if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
                raise ValueError(f"{pattern!r}: globs are relative to the workspace and stay inside it")
        return value

    @property
    def hour(self) -> int:
        return int(self.at.split(":")[0])

    @property
    def minute(self) -> int:
        return int(self.at.split(":")[1])

    def target(self, root: Path) -> Path:
        """The folder snapshots go to, for the workspace at `root`."""
        folder = Path(self.dir).expanduser()
        return folder if folder.is_absolute() else root / folder
