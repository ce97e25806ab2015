"""What every renderer starts from: the services of one workspace, under one application name."""

from __future__ import annotations

import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from autonomic.errors import UsageError
from autonomic.supervisor.spec import ServiceSpec

_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,47}")


def app_name(given: str | None, root: Path) -> str:
    """`given` checked, or the workspace folder's name made safe for unit names and Compose projects."""
    if given is not None:
        if not _NAME.fullmatch(given):
            raise UsageError(f"--name {given!r}: use lower-case letters, digits and '-' (at most 48)")
        return given
    base = re.sub(r"[^a-z0-9]+", "-", root.name.lower()).strip("-")[:40]
    return f"autonomic-{base}" if base else "autonomic"


@dataclass(frozen=True)
class App:
    """The services to export (autostart ones and the others), and where they came from."""

    name: str
    root: Path
    services: list[ServiceSpec]

    def unit(self, service: str) -> str:
        return f"{self.name}-{service}"

    @property
    def env_file(self) -> Path:
        return self.root / ".env"

    @staticmethod
    def absolute_argv(spec: ServiceSpec) -> list[str]:
        """The argv with its program found the way the orchestrator finds it (PATH, or the service's
        folder for `./x`), so a unit names an absolute path; left as it is if not found here."""
        argv = list(spec.argv)
        if not argv or os.path.isabs(argv[0]):
            return argv
        if os.sep in argv[0]:
            candidate = os.path.join(spec.cwd, argv[0])
            return [os.path.normpath(candidate), *argv[1:]] if os.path.exists(candidate) else argv
        found = shutil.which(argv[0], path=spec.env.get("PATH", os.environ.get("PATH")))
        return [found, *argv[1:]] if found else argv

    @staticmethod
    def plain_argv(argv: list[str]) -> list[str]:
        """The argv with this interpreter's path replaced by `python` (for a container's own Python)."""
        return ["python", *argv[1:]] if argv and argv[0] == sys.executable else list(argv)
