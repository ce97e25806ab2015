"""Reaping orphans: as a subreaper (Linux) the orchestrator inherits the grandchildren its services leave
behind; those that exit must be collected, or they stay zombies for as long as it runs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable

import psutil

GRACE = 2.0


class OrphanReaper:
    """Collects zombies among our children that are no service's process. Our own service processes are
    reaped by their watchers, so only a zombie that is not one of `ours()` and has stayed a zombie for
    `GRACE` seconds is an orphan of ours to collect."""

    def __init__(self, ours: Callable[[], set[int]]) -> None:
        self._ours = ours
        self._seen: dict[int, float] = {}
        self._pending: asyncio.TimerHandle | None = None

    def schedule(self) -> None:
        """On SIGCHLD, look for orphans later, never on the path of a service's restart."""
        if self._pending is None:
            self._pending = asyncio.get_running_loop().call_later(GRACE, self._reap_now)

    def _reap_now(self) -> None:
        self.reap(self._ours())

    def reap(self, ours: set[int]) -> None:
        self._pending = None
        zombies = {pid for pid in _child_pids() if _is_zombie(pid)}
        now = time.monotonic()
        self._seen = {pid: self._seen.get(pid, now) for pid in zombies - ours}
        for pid, first_seen in list(self._seen.items()):
            if now - first_seen >= GRACE:
                if sys.platform != "win32":  # no zombies there
                    with contextlib.suppress(ChildProcessError, OSError):
                        os.waitpid(pid, os.WNOHANG)
                del self._seen[pid]


def _child_pids() -> list[int]:
    """Our direct children. Linux lists them per thread in /proc, which is far cheaper than psutil's
    scan of every process on the machine."""
    try:
        found: list[int] = []
        for task in os.scandir("/proc/self/task"):
            with open(f"{task.path}/children") as handle:
                found.extend(int(pid) for pid in handle.read().split())
        return found
    except OSError:
        try:
            return [child.pid for child in psutil.Process().children()]
        except psutil.Error:
            return []


def _is_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
