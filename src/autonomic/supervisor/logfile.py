"""Size-based rotation of `logs/<service>.log` while the service keeps writing to it.

Services hold their log open in append mode (they write to it directly, so they outlive the
orchestrator). Rotation therefore copies the file aside and truncates it in place; an appending
writer simply continues at the new end."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path


def rotate_if_needed(path: Path, max_bytes: int, keep: int) -> bool:
    """Rotate `path` to `path.1` (shifting older ones up to `path.<keep>`) when it exceeds `max_bytes`."""
    try:
        if path.stat().st_size <= max_bytes:
            return False
    except FileNotFoundError:
        return False
    for index in range(keep - 1, 0, -1):
        older = path.with_name(f"{path.name}.{index}")
        if older.exists():
            os.replace(older, path.with_name(f"{path.name}.{index + 1}"))
    with open(path, "rb") as source, open(path.with_name(f"{path.name}.1"), "wb") as target:
        shutil.copyfileobj(source, target)
    with open(path, "r+b") as handle:
        handle.truncate(0)
    with contextlib.suppress(FileNotFoundError):
        path.with_name(f"{path.name}.{keep + 1}").unlink()
    return True


def tail(path: Path, lines: int) -> list[str]:
    """The last `lines` lines of `path`, read from the end so a large log costs little."""
    if lines <= 0:
        return []
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            block, data = 8192, b""
            while size > 0 and data.count(b"\n") <= lines:
                step = min(block, size)
                size -= step
                handle.seek(size)
                data = handle.read(step) + data
    except FileNotFoundError:
        return []
    return [line.decode("utf-8", "replace") for line in data.splitlines(keepends=True)[-lines:]]
