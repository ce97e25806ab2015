"""How fast a task reaches a waiting worker, and how fast one worker drains a backlog.

`python benchmarks/worker_latency.py [--rounds 200] [--backlog 2000] [--concurrency 16] [--sync full]`

Starts a queue server and one `autonomic worker` in a temporary workspace (loopback, free port), then:
1. latency: one `ping` at a time, created with the original API (POST /api/tasks/create) while the
   worker long-polls; measures create → result stored (`submitted_at`) and create → answer read back;
2. drain: `backlog` pings created in one batch, then the time until every result is stored.
Prints a JSON summary and writes it to benchmarks/results/worker-latency-<stamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

from autonomic.scaffold import init, read_token
from autonomic.workspace import Workspace

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--backlog", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--sync", choices=("full", "normal"), default="full", help="the queue's [queue].sync")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="autonomic-bench-") as folder:
        root = Path(folder)
        port = _free_port()
        init(Workspace.at(root))
        (root / "autonomic.toml").write_text(
            f'[queue]\nport = {port}\nsync = "{args.sync}"\n\n[worker]\nconcurrency = {args.concurrency}\n'
        )
        procs = [_spawn(["serve", "--workspace", str(root)], root, "queue")]
        try:
            url = f"http://127.0.0.1:{port}"
            _wait(lambda: _healthy(url), 20)
            procs.append(_spawn(["worker", "--workspace", str(root), "--name", "bench"], root, "worker"))
            api = httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {read_token(Workspace.at(root))}"}
            )
            _wait(lambda: bool(api.get("/api/workers").json()["workers"]), 20)
            summary = {"latency": _latency(api, args.rounds), "drain": _drain(api, args.backlog)}
        finally:
            for proc in reversed(procs):
                os.kill(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
    summary |= {
        "sync": args.sync,
        "concurrency": args.concurrency,
        "python": sys.version.split()[0],
        "at": datetime.now().isoformat(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"worker-latency-{datetime.now():%Y%m%d-%H%M%S}.json").write_text(
        json.dumps(summary, indent=2)
    )
    print(json.dumps(summary, indent=2))


def _latency(api: httpx.Client, rounds: int) -> dict[str, float]:
    stored, answered = [], []
    for _ in range(rounds):
        started = time.time()
        task_id = api.post("/api/tasks/create", json={"type": "ping", "data": {}}).json()["task_id"]
        result = api.get(f"/api/results/{task_id}", params={"wait": 10}).json()
        answered.append(time.time() - started)
        stored.append(datetime.fromisoformat(result["submitted_at"]).timestamp() - started)
    return {"rounds": rounds, **_percentiles("stored_ms", stored), **_percentiles("answered_ms", answered)}


def _drain(api: httpx.Client, backlog: int) -> dict[str, float]:
    before = api.get("/api/stats").json()["completed"]
    started = time.monotonic()
    for offset in range(0, backlog, 500):
        batch = [{"type": "ping", "data": {}} for _ in range(min(500, backlog - offset))]
        api.post("/api/tasks/batch", json={"tasks": batch}).raise_for_status()
    _wait(lambda: api.get("/api/stats").json()["completed"] - before >= backlog, 300, interval=0.05)
    elapsed = time.monotonic() - started
    return {"tasks": backlog, "seconds": round(elapsed, 3), "tasks_per_second": round(backlog / elapsed, 1)}


def _percentiles(name: str, values: list[float]) -> dict[str, float]:
    ordered = sorted(v * 1000 for v in values)
    return {
        f"{name}_p50": round(statistics.median(ordered), 2),
        f"{name}_p95": round(ordered[int(len(ordered) * 0.95) - 1], 2),
        f"{name}_max": round(ordered[-1], 2),
    }


def _spawn(args: list[str], root: Path, name: str) -> subprocess.Popen[bytes]:
    log = (root / "logs" / f"{name}.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "autonomic", *args], cwd=root, stdout=log, stderr=log)


def _wait(predicate: object, timeout: float, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout}s")
        time.sleep(interval)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    main()
