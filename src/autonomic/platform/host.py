"""The OS seam of registration: which OS, whose home folder, and how an OS tool (`systemctl`, `crontab`,
`launchctl`, `schtasks`, `reg`, `loginctl`) is run. Tests swap `run` (and `home`) and nothing else."""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TOOL_TIMEOUT = 20.0


@dataclass(frozen=True)
class Outcome:
    """What an OS tool answered: its exit code and output. 127 means it is not installed."""

    code: int
    out: str = ""
    err: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 0

    def reason(self) -> str:
        text = (self.err or self.out).strip().splitlines()
        return text[-1] if text else f"exit code {self.code}"


Runner = Callable[[Sequence[str], str | None], Outcome]


def run_tool(argv: Sequence[str], stdin: str | None = None) -> Outcome:
    """Run an OS tool, bounded; a missing tool or a hang becomes an `Outcome`, never an exception."""
    try:
        done = subprocess.run(
            list(argv),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=TOOL_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        return Outcome(127, err=f"{argv[0]}: not installed")
    except subprocess.TimeoutExpired:
        return Outcome(124, err=f"{argv[0]}: no answer within {TOOL_TIMEOUT:.0f}s")
    except OSError as exc:
        return Outcome(126, err=f"{argv[0]}: {exc.strerror or exc}")
    return Outcome(done.returncode, done.stdout or "", done.stderr or "")


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid()) if hasattr(os, "getuid") else "user"


@dataclass(frozen=True)
class Host:
    """The machine as registration sees it."""

    system: str = sys.platform
    home: Path = field(default_factory=Path.home)
    run: Runner = run_tool
    which: Callable[[str], str | None] = shutil.which
    user: str = field(default_factory=_user)
    uid: int = field(default_factory=lambda: os.getuid() if hasattr(os, "getuid") else 0)
    xdg_config: str | None = field(default_factory=lambda: os.environ.get("XDG_CONFIG_HOME"))

    @property
    def config_home(self) -> Path:
        """$XDG_CONFIG_HOME when set (absolute), else ~/.config."""
        if self.xdg_config and os.path.isabs(self.xdg_config):
            return Path(self.xdg_config)
        return self.home / ".config"

    @property
    def linux(self) -> bool:
        return self.system.startswith("linux")

    @property
    def macos(self) -> bool:
        return self.system == "darwin"

    @property
    def windows(self) -> bool:
        return self.system == "win32"

    def has(self, tool: str) -> bool:
        return self.which(tool) is not None
