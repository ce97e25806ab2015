"""`ProcessTable`: CPU %, RSS, threads and open descriptors of whole process trees, across samples.

psutil's `cpu_percent` measures since its previous call on the same `Process` object, so the table
keeps one object per live process and forgets those that are gone. The parent links of every process
are read once per sample (`scan`), not once per service: that scan is most of a sample's cost.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import psutil

MB = 1024 * 1024


@dataclass(frozen=True)
class TreeUsage:
    """What one service's process tree uses: its main process and every descendant."""

    processes: int
    cpu_percent: float
    rss_mb: float
    threads: int
    open_files: int

    def as_dict(self) -> dict[str, float | int]:
        return {
            "processes": self.processes,
            "cpu_percent": round(self.cpu_percent, 2),
            "rss_mb": round(self.rss_mb, 2),
            "threads": self.threads,
            "open_files": self.open_files,
        }


class ProcessTable:
    """Remembers the `psutil.Process` of every process it measured, so CPU % is a rate between samples."""

    def __init__(self) -> None:
        self._known: dict[int, psutil.Process] = {}
        self._seen: set[int] = set()
        self._children: dict[int, list[int]] | None = None

    def scan(self) -> None:
        """Read every process's parent once; `tree` then walks this map (until the next scan)."""
        children: dict[int, list[int]] = {}
        for process in psutil.process_iter(["ppid"]):
            parent = process.info.get("ppid")
            if isinstance(parent, int):
                children.setdefault(parent, []).append(process.pid)
        self._children = children

    def tree(self, pid: int) -> TreeUsage | None:
        """The usage of `pid` and all its descendants, or None if `pid` is gone."""
        root = self._process(pid)
        if root is None:
            return None
        members = [root, *self._descendants(pid)]
        total = TreeUsage(0, 0.0, 0.0, 0, 0)
        for member in members:
            own = self._measure(member)
            if own is not None:
                total = TreeUsage(
                    total.processes + 1,
                    total.cpu_percent + own.cpu_percent,
                    total.rss_mb + own.rss_mb,
                    total.threads + own.threads,
                    total.open_files + own.open_files,
                )
        return total if total.processes else None

    def _descendants(self, pid: int) -> list[psutil.Process]:
        if self._children is None:
            try:
                return psutil.Process(pid).children(recursive=True)
            except psutil.Error:
                return []
        found: list[psutil.Process] = []
        stack = list(self._children.get(pid, []))
        while stack:
            child = stack.pop()
            stack.extend(self._children.get(child, []))
            process = self._process(child)
            if process is not None:
                found.append(process)
        return found

    def own(self, pid: int) -> TreeUsage | None:
        """The usage of `pid` alone (the monitor measuring itself)."""
        process = self._process(pid)
        return None if process is None else self._measure(process)

    def forget_unseen(self) -> None:
        """Drop the processes not measured since the last call (they exited or left every tree)."""
        for pid in set(self._known) - self._seen:
            del self._known[pid]
        self._seen.clear()

    def _process(self, pid: int) -> psutil.Process | None:
        known = self._known.get(pid)
        if known is not None and pid in self._seen:
            return known
        try:
            return self._adopt(psutil.Process(pid))
        except psutil.Error:
            return None

    def _adopt(self, fresh: psutil.Process) -> psutil.Process:
        """The remembered object for this process, unless the pid now belongs to another process."""
        known = self._known.get(fresh.pid)
        if known is None or not _same_process(known, fresh):
            self._known[fresh.pid] = known = fresh
        self._seen.add(fresh.pid)
        return known

    def _measure(self, process: psutil.Process) -> TreeUsage | None:
        try:
            with process.oneshot():
                cpu = process.cpu_percent(None)
                rss = process.memory_info().rss / MB
                threads = process.num_threads()
                files = _descriptors(process)
        except psutil.Error:
            return None
        return TreeUsage(1, cpu, rss, threads, files)


def _same_process(a: psutil.Process, b: psutil.Process) -> bool:
    try:
        return a.create_time() == b.create_time()
    except psutil.Error:
        return False


def _descriptors(process: psutil.Process) -> int:
    """Open files, sockets and pipes: file descriptors on POSIX, handles on Windows."""
    with contextlib.suppress(psutil.Error, AttributeError):
        if hasattr(process, "num_fds"):
            return int(process.num_fds())
        return int(getattr(process, "num_handles")())  # noqa: B009 - Windows only
    return 0
