"""The heartbeat file the orchestrator's probe reads: touched every few seconds while the loop lives."""

from __future__ import annotations

import os
from pathlib import Path

INTERVAL = 2.0


def touch(path: Path) -> None:
    """Bump the file's mtime (creating it the first time). Cheap enough for every couple of seconds."""
    try:
        os.utime(path)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
