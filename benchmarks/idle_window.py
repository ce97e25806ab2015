"""The idle benchmark's measuring window (benchmarks/idle.py): CPU time, wake-ups and RSS of a set of
processes over one window, and the autonomic stack's processes (the orchestrator and its descendants)."""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from idle_peers import Pid

MB = 1024 * 1024


def stack_pids(workspace: Path) -> set[Pid]:
    """The orchestrator (from its control file) and all its descendants, now."""
    found: set[Pid] = set()
    with contextlib.suppress(OSError, ValueError, KeyError):
        control = json.loads((workspace / ".autonomic" / "control.json").read_text(encoding="utf-8"))
        root = psutil.Process(int(control["pid"]))
        for proc in [root, *root.children(recursive=True)]:
            if pid := Pid.of(proc.pid):
                found.add(pid)
    return found


def cpu_of(proc: psutil.Process) -> tuple[float, float]:
    """(own user+system, reaped children's user+system) in seconds."""
    t = proc.cpu_times()
    return t.user + t.system, t.children_user + t.children_system


@dataclass(frozen=True)
class Threads:
    """Per live thread: voluntary context switches and run time in ns (/proc/PID/task/*; Linux)."""

    switches: dict[int, int]
    runtime_ns: dict[int, int]

    @classmethod
    def of(cls, pid: int) -> Threads:
        switches: dict[int, int] = {}
        runtime: dict[int, int] = {}
        try:
            tasks = list(Path(f"/proc/{pid}/task").iterdir())
        except OSError:
            return cls(switches, runtime)
        for task in tasks:
            tid = int(task.name)
            with contextlib.suppress(OSError, ValueError, IndexError):
                for line in (task / "status").read_text().splitlines():
                    if line.startswith("voluntary_ctxt_switches:"):
                        switches[tid] = int(line.split()[1])
                runtime[tid] = int((task / "schedstat").read_text().split()[0])
        return cls(switches, runtime)

    def since(self, before: Threads) -> tuple[int, int, int]:
        """(wake-ups, run time ns, threads gone) between `before` and this: a thread born in between
        counts whole; a thread that ended in between is lost to both sums (hence the count)."""
        wakes = sum(n - before.switches.get(tid, 0) for tid, n in self.switches.items())
        runtime = sum(n - before.runtime_ns.get(tid, 0) for tid, n in self.runtime_ns.items())
        return wakes, runtime, len(set(before.runtime_ns) - set(self.runtime_ns))


@dataclass
class Watch:
    """One process over the window. CPU is taken two ways: psutil's user + system (clock ticks: 10 ms
    steps, includes ended threads) and the threads' scheduler run time (ns, live threads only). The
    ns figure is used unless a thread ended in the window or it falls two ticks short of psutil's."""

    system: str
    label: str
    proc: psutil.Process
    cpu: list[float] = field(default_factory=list)  # own CPU s at begin, end
    kids: list[float] = field(default_factory=list)  # reaped children's CPU s at begin, end
    threads: list[Threads] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    lost: bool = False

    def mark(self) -> None:
        try:
            own, kids = cpu_of(self.proc)
        except psutil.Error:
            self.lost = True
            return
        self.cpu.append(own)
        self.kids.append(kids)
        self.threads.append(Threads.of(self.proc.pid))

    def sample(self) -> None:
        try:
            self.rss.append(self.proc.memory_info().rss / MB)
        except psutil.Error:
            self.lost = True

    def row(self, wall: float) -> dict[str, Any]:
        row: dict[str, Any] = {"system": self.system, "name": self.label, "pid": self.proc.pid}
        row |= {"cpu_ms": None, "tick_ms": None, "reaped_children_ms": None, "wakeups": None}
        row |= {"rss_mb": sum(self.rss) / len(self.rss) if self.rss else None, "seconds": wall}
        if len(self.cpu) != 2 or self.lost:
            return row
        ticks = (self.cpu[1] - self.cpu[0]) * 1000
        wakes, runtime_ns, gone = self.threads[1].since(self.threads[0])
        precise = runtime_ns / 1e6 if self.threads[1].runtime_ns else None
        usable = precise is not None and not gone and precise > ticks - 20.0
        row |= {
            "cpu_ms": precise if usable else ticks,
            "tick_ms": ticks,
            "cpu_source": "ns" if usable else "ticks",
        }
        row |= {"reaped_children_ms": (self.kids[1] - self.kids[0]) * 1000, "threads_ended": gone}
        row["wakeups"] = wakes if self.threads[1].switches else None
        return row


def measure(watches: list[Watch], seconds: float, workspace: Path) -> tuple[float, list[str]]:
    """One window for everyone: CPU and wake-ups at both ends, RSS and new stack processes each second."""
    known = {w.proc.pid for w in watches}
    transient: list[str] = []
    for w in watches:
        w.mark()
    start = next_tick = time.monotonic()
    while True:
        for w in watches:
            w.sample()
        for pid in stack_pids(workspace):
            if pid.pid not in known:
                known.add(pid.pid)
                with contextlib.suppress(psutil.Error):
                    transient.append(f"pid {pid.pid}: {' '.join(psutil.Process(pid.pid).cmdline())[:160]}")
        next_tick += 1.0
        if next_tick - start > seconds + 1e-6:
            break
        time.sleep(max(0.0, next_tick - time.monotonic()))
    wall = time.monotonic() - start
    for w in watches:
        w.mark()
    return wall, transient


def job_runs(workspace: Path, offset: int) -> list[str]:
    """The orchestrator's job runs that ended after `offset` of its event log (one event each, with its
    duration): reliable where a 1 s process scan misses a job that lives 0.3 s."""
    from autonomic.workspace import Workspace

    try:
        with Workspace.at(workspace).orchestrator_log.open("rb") as log:
            log.seek(offset)
            text = log.read().decode("utf-8", "replace")
    except OSError:
        return []
    runs = []
    for line in text.splitlines():
        with contextlib.suppress(ValueError, AttributeError):
            event = json.loads(line)
            if event.get("action") == "job" and event.get("status") in ("success", "failure"):
                runs.append(f"{event.get('target')} ({event.get('status')}, {event.get('duration')} s)")
    return runs


def log_size(workspace: Path) -> int:
    from autonomic.workspace import Workspace

    try:
        return Workspace.at(workspace).orchestrator_log.stat().st_size
    except OSError:
        return 0
