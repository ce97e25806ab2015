"""What the OS registrations are made of: the entry to register, what a backend reports, and the
`Backend` interface each OS artefact implements (`systemd`, `cron`, `xdg`, `launchd`, `taskscheduler`).
`registration` chooses among the backends; the backends import only this module."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from autonomic.platform.host import Host


class Purpose(StrEnum):
    BOOT = "boot"
    BACKUP = "backup"


@dataclass(frozen=True)
class Registration:
    """What the OS holds for one purpose of one workspace.

    `points_here`: the registered command runs this workspace with an interpreter that still exists."""

    registered: bool
    enabled: bool
    points_here: bool
    where: str
    detail: str
    backend: str = ""

    @property
    def ok(self) -> bool:
        return self.registered and self.enabled and self.points_here

    def to_dict(self) -> dict[str, object]:
        return {
            "registered": self.registered,
            "enabled": self.enabled,
            "points_here": self.points_here,
            "ok": self.ok,
            "where": self.where,
            "detail": self.detail,
            "backend": self.backend,
        }


@dataclass(frozen=True)
class Entry:
    """One thing to register: the command, when it runs, and the names the OS artefacts get."""

    purpose: Purpose
    root: Path
    argv: list[str]
    delay: float = 0.0
    at: tuple[int, int] = (3, 30)
    restart_after: float = 5.0
    log: Path = field(default_factory=Path)

    @property
    def _tail(self) -> str:
        base = re.sub(r"[^A-Za-z0-9]+", "-", self.root.name).strip("-").lower()[:32] or "root"
        return f"{base}-{hashlib.sha256(str(self.root).encode('utf-8')).hexdigest()[:8]}"

    @property
    def slug(self) -> str:
        """A name unique to this workspace and purpose: `autonomic-boot-myproject-1a2b3c4d`."""
        return f"autonomic-{self.purpose.value}-{self._tail}"

    @property
    def label(self) -> str:
        """The reverse-DNS label launchd wants: `io.autonomic.boot.myproject-1a2b3c4d`."""
        return f"io.autonomic.{self.purpose.value}.{self._tail}"

    @property
    def description(self) -> str:
        if self.purpose is Purpose.BOOT:
            return f"autonomic orchestrator for {self.root}"
        return f"autonomic daily backup of {self.root}"

    @property
    def program(self) -> str:
        return self.argv[0]


class Backend(Protocol):
    name: str

    def register(self, entry: Entry, host: Host) -> list[str]:
        """Write and enable the artefact; return what was written where. Idempotent."""

    def unregister(self, entry: Entry, host: Host) -> list[str]:
        """Remove exactly what `register` wrote; return what was removed (empty: nothing was there)."""

    def status(self, entry: Entry, host: Host) -> Registration:
        """What is registered for `entry`; `registered=False` when nothing is."""


def points_here(argv: Sequence[str], root: Path) -> tuple[bool, str]:
    """Whether a registered command runs the workspace at `root` with an interpreter that exists."""
    if not argv:
        return False, "the registered command is empty"
    program = argv[0]
    if not os.path.isabs(program) or not os.path.isfile(program):
        return False, f"the interpreter {program} no longer exists"
    args = list(argv)
    try:
        target = Path(args[args.index("--workspace") + 1])
    except (ValueError, IndexError):
        return False, "the registered command names no workspace"
    if os.path.normcase(os.path.abspath(target)) != os.path.normcase(str(root)):
        return False, f"it runs another workspace ({target})"
    if not (root / "autonomic.toml").is_file():
        return False, f"the workspace {root} no longer exists"
    shown = " ".join(args[3:]) if args[1:3] == ["-m", "autonomic"] else " ".join(args[1:])
    return True, f"runs 'autonomic {shown}' with {program}"
