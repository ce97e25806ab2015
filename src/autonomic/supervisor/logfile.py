"""Service log files `logs/<service>.log`: opened owner-only, rotated by size while the service keeps
writing, read from the end (`tail`) and followed as they grow (`follow`).

Services hold their log open in append mode (they write to it directly, so they outlive the
orchestrator). Rotation therefore copies the file aside and truncates it in place; an appending
writer simply continues at the new end."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

PRIVATE = 0o600


def open_append(path: Path) -> int:
    """A file descriptor appending to `path`, created owner-only (an existing file is made so too)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE)
    if hasattr(os, "fchmod"):  # not on Windows, where the mode bits mean little anyway
        with contextlib.suppress(OSError):
            os.fchmod(fd, PRIVATE)
    return fd


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
    aside = os.open(path.with_name(f"{path.name}.1"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)
    with open(path, "rb") as source, os.fdopen(aside, "wb") as target:
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
    except OSError:
        return []
    return [line.decode("utf-8", "replace") for line in data.splitlines(keepends=True)[-lines:]]


def follow(
    paths: dict[str, Path], poll: float = 0.2, sleep: Callable[[float], None] = time.sleep
) -> Iterator[tuple[str, str]]:
    """Yield `(name, line)` for every line appended to any of `paths` from now on, forever (the caller
    stops iterating). A truncated file (rotated) is read again from its start."""
    positions = {name: _size(path) for name, path in paths.items()}
    while True:
        for name, path in paths.items():
            size = _size(path)
            if size < positions[name]:
                positions[name] = 0
            if size > positions[name]:
                try:
                    with open(path, "rb") as handle:
                        handle.seek(positions[name])
                        chunk = handle.read(size - positions[name]).decode("utf-8", "replace")
                except OSError:
                    continue
                positions[name] = size
                for line in chunk.splitlines(keepends=True):
                    yield name, line
        sleep(poll)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
