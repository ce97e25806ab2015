"""Monitoring Daemon overhead benchmark (issue 10).

Run (one command, from the repo root):

    .venv/bin/python benchmarks/monitor.py            # --duration 600 --services 10

Two workspaces run side by side for --duration seconds (default 10 minutes, what the issue asks):

- "monitored": the default stack plus --services supervised services (sleepers), monitor at its
  default settings (a sample every 10 s, reports every minute). Measured: the monitor's own CPU time
  over the window as % of one core, and its RSS (peak and last). Its /metrics is scraped every 15 s,
  like Prometheus would.
- "default": a fresh `autonomic init` workspace, nothing added: the whole default stack's idle RSS and
  CPU per process (orchestrator, queue, worker, monitor, watchdog when present).

Peer, in the same run: Prometheus' node_exporter (Debian's `prometheus-node-exporter`, installed with
apt-get if missing), the usual per-host metrics agent, scraped at the same 10 s interval as the monitor
samples: its CPU % and RSS. The issue's targets: monitor <= 1 % of one core and <= 60 MB RSS.
Every process started is stopped by pid at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

PYTHON = sys.executable
MB = 1024 * 1024
NODE_EXPORTER = "prometheus-node-exporter"


@dataclass
class Watch:
    """CPU time and RSS of one process over the window."""

    name: str
    process: psutil.Process
    cpu_start: float = 0.0
    cpu_end: float = 0.0
    rss: list[float] = field(default_factory=list)

    def begin(self) -> None:
        self.cpu_start = _cpu(self.process)

    def tick(self) -> None:
        with contextlib.suppress(psutil.Error):
            self.rss.append(self.process.memory_info().rss / MB)

    def end(self) -> None:
        self.cpu_end = _cpu(self.process)

    def row(self, seconds: float) -> tuple[str, float, float, float]:
        share = 100.0 * (self.cpu_end - self.cpu_start) / seconds
        return self.name, share, max(self.rss, default=0.0), self.rss[-1] if self.rss else 0.0


def _cpu(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli(root: Path, *args: str, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
    where = [str(root)] if args[0] == "init" else ["-w", str(root)]
    return subprocess.run(
        [PYTHON, "-m", "autonomic", *args, *where],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )


def _workspace(root: Path, services: int) -> None:
    root.mkdir(parents=True)
    result = _cli(root, "init")
    if result.returncode != 0:
        raise SystemExit(f"autonomic init failed: {result.stderr}")
    text = (root / "autonomic.toml").read_text()
    text = text.replace("port = 8091", f"port = {_free_port()}", 1)
    text += f"\n[monitor]\nport = {_free_port()}\n"
    sleeper = json.dumps([PYTHON, "-c", "import signal; signal.pause()"])
    for n in range(services):
        text += f"\n[services.sleeper{n}]\ncommand = {sleeper}\n"
    (root / "autonomic.toml").write_text(text)


def _up(root: Path) -> dict[str, int]:
    result = _cli(root, "up", "--timeout", "120")
    if result.returncode != 0:
        raise SystemExit(f"autonomic up failed in {root}: {result.stderr or result.stdout}")
    status = json.loads(_cli(root, "status", "--json").stdout)
    pids = {s["name"]: int(s["pid"]) for s in status["services"] if s.get("pid")}
    pids["orchestrator"] = int(status["orchestrator"]["pid"])
    return pids


@contextlib.contextmanager
def _node_exporter() -> Iterator[tuple[psutil.Process, str] | None]:
    binary = shutil.which(NODE_EXPORTER) or shutil.which("node_exporter")
    if binary is None and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "-q", NODE_EXPORTER], check=False, stdout=subprocess.DEVNULL
        )
        binary = shutil.which(NODE_EXPORTER)
    if binary is None:
        print("node_exporter is not installed and apt-get could not install it: peer skipped")
        yield None
        return
    port = _free_port()
    proc = subprocess.Popen(
        [binary, f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                urllib.request.urlopen(url, timeout=2).read()
                break
            time.sleep(0.2)
        yield psutil.Process(proc.pid), url
    finally:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def _scrape(url: str, token: str | None = None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with contextlib.suppress(OSError):
        urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5).read()


def _monitor_url(root: Path) -> str:
    text = (root / "autonomic.toml").read_text()
    port = int(text.split("[monitor]\nport = ")[1].split()[0])
    return f"http://127.0.0.1:{port}/metrics"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds measured (default 600)")
    parser.add_argument("--services", type=int, default=10, help="supervised services added (default 10)")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="autonomic-bench-monitor-"))
    monitored, default = base / "monitored", base / "default"
    roots = [monitored, default]
    try:
        _workspace(monitored, args.services)
        _workspace(default, 0)
        pids = _up(monitored)
        idle = _up(default)
        token = (monitored / ".autonomic" / "token").read_text().strip()
        with _node_exporter() as peer:
            watches = [Watch("monitor (10 services)", psutil.Process(pids["monitor"]))]
            watches += [
                Watch(f"default stack: {name}", psutil.Process(pid)) for name, pid in sorted(idle.items())
            ]
            if peer is not None:
                watches.append(Watch("node_exporter (peer)", peer[0]))
            time.sleep(15)  # past start-up: the first sample, report and scrape are not steady state
            for watch in watches:
                watch.begin()
            started = time.monotonic()
            next_scrape = started
            while time.monotonic() - started < args.duration:
                for watch in watches:
                    watch.tick()
                if time.monotonic() >= next_scrape:
                    _scrape(_monitor_url(monitored), token)
                    if peer is not None:
                        _scrape(peer[1])
                    next_scrape += 10.0
                time.sleep(2.0)
            elapsed = time.monotonic() - started
            for watch in watches:
                watch.end()
        _print(watches, elapsed, args)
    finally:
        for root in roots:
            with contextlib.suppress(Exception):
                _cli(root, "down", timeout=120)
        shutil.rmtree(base, ignore_errors=True)


def _print(watches: list[Watch], elapsed: float, args: argparse.Namespace) -> None:
    print(f"\nMonitor overhead over {elapsed:.0f} s ({args.services} added services, default interval 10 s)")
    print(f"{'process':44} {'CPU % of a core':>16} {'peak RSS MB':>12} {'last RSS MB':>12}")
    total_cpu = total_rss = 0.0
    for watch in watches:
        name, cpu, peak, last = watch.row(elapsed)
        print(f"{name:44} {cpu:16.2f} {peak:12.1f} {last:12.1f}")
        if name.startswith("default stack"):
            total_cpu += cpu
            total_rss += last
    print(f"{'default stack, all processes':44} {total_cpu:16.2f} {'':>12} {total_rss:12.1f}")
    monitor = watches[0].row(elapsed)
    verdict = "meets" if monitor[1] <= 1.0 and monitor[2] <= 60.0 else "MISSES"
    print(
        f"\nmonitor: {monitor[1]:.2f} % of a core, peak {monitor[2]:.1f} MB: {verdict} the target (<= 1 %, <= 60 MB)"
    )


if __name__ == "__main__":
    main()
