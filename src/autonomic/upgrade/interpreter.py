"""The Python interpreter an upgrade installs into, and its installed set (`pip freeze`), so a rollback
can put back exactly the versions that were there before."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from autonomic.upgrade.errors import UpgradeError
from autonomic.workspace import Workspace

_PYTHON_NAME = re.compile(r"^python(\d+(\.\d+)?)?w?(\.exe)?$", re.IGNORECASE)
_FREEZE_TIMEOUT = 120.0


@dataclass(frozen=True)
class Interpreter:
    path: Path

    @classmethod
    def for_workspace(cls, workspace: Workspace, configured: str | None) -> Interpreter:
        """`[upgrade] python` if set (relative to the workspace), else the workspace's `.venv`, else the
        interpreter autonomic runs under (the one the built-in services use)."""
        if configured:
            path = Path(configured).expanduser()
            path = path if path.is_absolute() else workspace.root / path
            if not path.exists():
                raise UpgradeError(f"[upgrade] python: {path} does not exist")
            return cls(path)
        venv = workspace.root / ".venv" / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
        if venv.exists():
            return cls(venv)
        return cls(Path(sys.executable))

    def pip(self, *args: str) -> list[str]:
        """A pip command acting on this interpreter: its own pip, or (a venv made without pip)
        autonomic's pip pointed at it with `--python`."""
        common = ["--disable-pip-version-check", "--no-input", *args]
        if _has_pip(str(self.path)):
            return [str(self.path), "-m", "pip", *common]
        return [sys.executable, "-m", "pip", "--python", str(self.path), *common]

    def runs(self, argv: list[str]) -> bool:
        """Whether a service started with `argv` runs on this interpreter (a bare `python` counts: the
        orchestrator puts the workspace's `.venv` first on PATH)."""
        if not argv:
            return False
        program = argv[0]
        if os.path.isabs(program):
            return os.path.normcase(os.path.abspath(program)) == os.path.normcase(os.path.abspath(self.path))
        return bool(_PYTHON_NAME.match(os.path.basename(program)))

    def freeze(self) -> dict[str, str]:
        """Every installed distribution: normalised name -> its `pip freeze` line."""
        try:
            done = subprocess.run(
                self.pip("freeze", "--all"),
                capture_output=True,
                text=True,
                timeout=_FREEZE_TIMEOUT,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise UpgradeError(f"{self.path}: pip freeze failed: {exc}") from None
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise UpgradeError(f"{self.path}: pip freeze failed (exit {done.returncode}): {tail}")
        return parse_freeze(done.stdout)


@functools.cache
def _has_pip(python: str) -> bool:
    try:
        done = subprocess.run(
            [python, "-c", "import pip"], capture_output=True, timeout=30, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def parse_freeze(text: str) -> dict[str, str]:
    """`name==1.0`, `name @ url` and `-e path` lines, keyed by normalised name (or the editable path)."""
    found: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-e ", "--editable")):
            found["editable:" + line.split(None, 1)[-1]] = line
            continue
        name = re.split(r"\s*(?:==|===|@)\s*", line, maxsplit=1)[0]
        found[normalise(name)] = line
    return found


def _pin(line: str) -> str:
    """What a freeze line pins, whatever the spelling of the name: `==1.0`, `@ url`, the editable path."""
    parts = re.split(r"\s*(==|===|@)\s*", line, maxsplit=1)
    return "".join(parts[1:]) if len(parts) == 3 else line


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class FreezeDiff:
    """How the installed set moved: `changed` lists names whose line (version, source) differs."""

    added: list[str]
    removed: list[str]
    changed: list[str]

    @classmethod
    def between(cls, before: dict[str, str], after: dict[str, str]) -> FreezeDiff:
        return cls(
            added=sorted(set(after) - set(before)),
            removed=sorted(set(before) - set(after)),
            changed=sorted(n for n in set(before) & set(after) if _pin(before[n]) != _pin(after[n])),
        )

    @property
    def touches_running_code(self) -> bool:
        """A running process may have imported a package that changed or left; a new one it cannot have."""
        return bool(self.removed or self.changed)

    def summary(self) -> str:
        parts = [f"{label}: {', '.join(names)}" for label, names in self._parts() if names]
        return "; ".join(parts) or "no change"

    def _parts(self) -> list[tuple[str, list[str]]]:
        return [("added", self.added), ("changed", self.changed), ("removed", self.removed)]
