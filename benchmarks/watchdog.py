"""How fast the two watchers repair each other, and what the watchdog costs.

    .venv/bin/python benchmarks/watchdog.py [--kills 5] [--interval 5]

In a temporary workspace (the watchdog and one plain service; queue, worker and monitor off so the
machine's load does not blur the figures): SIGKILL the orchestrator `--kills` times and time until a new
one answers on the control channel (the watchdog's job: the target is within 2 intervals), checking each
time that the service and the watchdog were adopted (same pids, one of each); SIGKILL the watchdog as
often and time until the orchestrator has a new one running; finally the watchdog's idle RSS."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import psutil

from autonomic.supervisor import markers
from autonomic.supervisor.control import ControlClient


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autonomic", *args, "--workspace", str(root)],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )


def services(root: Path) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for proc in markers.find_services(root):
        found.setdefault(proc.service, []).append(proc.pid)
    return found


def orchestrator(root: Path) -> int | None:
    try:
        client = ControlClient.for_file(root / ".autonomic" / "control.json")
        return int(client.request("ping", timeout=1.0).get("pid") or client.pid or 0) or None
    except Exception:
        return None


def wait(predicate: Callable[[], object], timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.02)
    raise SystemExit(f"gave up after {timeout}s")


def kill(pid: int) -> None:
    """SIGKILL; the clock starts now (the process may linger as a zombie until its parent reaps it)."""
    psutil.Process(pid).kill()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--interval", type=float, default=5.0, help="[watchdog] interval, seconds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "ws"
        subprocess.run(
            [sys.executable, "-m", "autonomic", "init", str(root)], capture_output=True, check=True
        )
        (root / "autonomic.toml").write_text(
            "[queue]\nenabled = false\n[worker]\nenabled = false\n[monitor]\nenabled = false\n"
            f'[watchdog]\ninterval = "{args.interval:g}s"\n[boot]\nenabled = false\n[backup]\nschedule = false\n'
            f"[services.sleeper]\ncommand = {json.dumps([sys.executable, '-c', 'import time; time.sleep(86400)'])}\n"
        )
        done = cli(root, "up")
        if done.returncode != 0:
            print(done.stdout, done.stderr)
            return 1
        try:
            return measure(root, args.kills, args.interval)
        finally:
            cli(root, "down")


def _replaced_orchestrator(root: Path, old: int) -> bool:
    pid = orchestrator(root)
    return pid is not None and pid != old


def _replaced_watchdog(root: Path, old: int) -> bool:
    return bool([p for p in services(root).get("watchdog", []) if p != old])


def _settled(root: Path) -> bool:
    return all(len(services(root).get(n, [])) == 1 for n in ("watchdog", "sleeper"))


def _one_watchdog(root: Path) -> bool:
    return len(services(root).get("watchdog", [])) == 1


def measure(root: Path, kills: int, interval: float) -> int:
    wait(partial(_settled, root), 60)
    before = services(root)
    revive: list[float] = []
    for _ in range(kills):
        old = orchestrator(root)
        assert old is not None
        kill(old)
        revive.append(wait(partial(_replaced_orchestrator, root, old), 4 * interval + 30))
        now = services(root)
        assert now == before, f"not adopted: {before} -> {now}"
        assert len(markers.find_orchestrators(root)) == 1
    back: list[float] = []
    for _ in range(kills):
        old_dog = services(root)["watchdog"][0]
        kill(old_dog)
        back.append(wait(partial(_replaced_watchdog, root, old_dog), 30))
        wait(partial(_one_watchdog, root), 30)
        time.sleep(11.0)  # past the default reset_after: each kill is "the first failure after a stable run"
    time.sleep(max(3 * interval, 10))
    dog = psutil.Process(services(root)["watchdog"][0])
    rss = dog.memory_info().rss / 2**20
    print(f"watchdog interval {interval:g}s, {kills} kills each")
    print(
        f"orchestrator SIGKILL -> answering again: median {statistics.median(revive):.2f}s, "
        f"max {max(revive):.2f}s (target <= {2 * interval:g}s); services adopted, 0 duplicates"
    )
    print(f"watchdog SIGKILL -> running again: median {statistics.median(back):.3f}s, max {max(back):.3f}s")
    print(f"watchdog idle RSS {rss:.1f} MB (target <= 25 MB)")
    return 0 if max(revive) <= 2 * interval and rss <= 25 else 1


if __name__ == "__main__":
    sys.exit(main())
