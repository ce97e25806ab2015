"""The OS seam: how processes are spawned detached, signalled as a group, and watched for exit."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

import psutil


class Platform(Protocol):
    name: str

    def detached_popen_kwargs(self) -> dict[str, Any]:
        """Popen keyword arguments that put the child in its own session / process group, so it
        survives the death of its parent and can be signalled as a group."""

    def send_group(self, pid: int, signal_name: str) -> None:
        """Send `signal_name` to the process group led by `pid` (its whole tree on Windows)."""

    def kill_group(self, pid: int) -> None:
        """Forcefully end the process group led by `pid`."""

    def become_subreaper(self) -> bool:
        """Make orphaned descendants re-parent to us instead of PID 1 (Linux); False where unsupported."""

    async def wait_exit(self, pid: int) -> None:
        """Return when `pid` has exited (a zombie counts as exited), without a polling loop where the
        OS offers an exit notification."""


def is_alive(pid: int, create_time: float | None = None) -> bool:
    """True if `pid` runs and, when given, was created at `create_time` (so a recycled pid is not ours).
    A zombie is dead: `kill(pid, 0)` still succeeds on it."""
    try:
        proc = psutil.Process(pid)
        if create_time is not None and abs(proc.create_time() - create_time) > 0.05:
            return False
        return proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return False


def create_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


async def poll_exit(pid: int, interval: float = 0.05) -> None:
    """The fallback exit watch, for where the OS gives no notification for a process not our child."""
    with contextlib.suppress(psutil.Error):
        start = psutil.Process(pid).create_time()
        while is_alive(pid, start):
            await asyncio.sleep(interval)
