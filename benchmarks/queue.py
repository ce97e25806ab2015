"""Task queue benchmark: autonomic's queue server against huey (SqliteHuey) and Celery on Redis.

Run (one command, from the repo root):

    .venv/bin/python benchmarks/queue.py            # --tasks 10000 --round-trips 500 --repeat 3

It installs its peers if they are missing (huey and celery[redis] into this interpreter's
environment with pip; redis-server with apt-get), starts redis-server on a free loopback port and
every consumer itself, and stops each by pid at the end. Measured, for each system:

- drain: N no-op tasks already queued, one worker process; tasks/s from the first task's start to
  the last result stored (median of --repeat runs). autonomic's worker talks HTTP to the server and
  uses batch claims (--batch) and batch results; huey runs its own consumer (1 thread worker);
  Celery runs one solo worker.
- round trip: enqueue one task, a waiting worker runs it, the result is readable; p50 / p95 ms.
  autonomic's worker is the real one (`autonomic worker`, concurrency 1, the built-in `ping`
  handler) and the enqueuer a `QueueClient`; autonomic is measured two ways: `create` then
  `result(wait=...)` (two calls), and `run` (one call).
  huey's consumer and result reads poll every 1 ms / 0.2 ms (its defaults start at 100 ms).

autonomic runs with its default `sync = "normal"` and again with `sync = "full"` (fsync per enqueue
and result); huey's SqliteHuey default is WAL without fsync, Redis' default is no fsync per write.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS = HERE / "queue_peers"  # its own folder: on a path with this file, `queue` would shadow the stdlib's
PYTHON = sys.executable
# Running this file puts its folder first on sys.path, where it would shadow the stdlib `queue`.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]


def main() -> None:
    args = _arguments()
    _ensure_peers()
    rows: list[tuple[str, float, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="queue-bench-") as tmp:
        for sync in ("normal", "full"):
            rows += _autonomic(Path(tmp) / f"ws-{sync}", sync, args)
        rows.append(_huey(Path(tmp), args))
        if shutil.which("redis-server"):
            rows.append(_celery(Path(tmp), args))
        else:
            print("redis-server is not installed and apt-get could not install it: Celery skipped")
    _report(rows, args)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--round-trips", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=500, help="autonomic worker's claim/result batch size")
    parser.add_argument("--role", help=argparse.SUPPRESS)
    parser.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    return parser.parse_args()


# --- peers --------------------------------------------------------------------------------------------


def _ensure_peers() -> None:
    """Benchmark-only dependencies, installed on first use (never needed by autonomic itself)."""
    missing = [
        pkg
        for mod, pkg in (("huey", "huey"), ("celery", "celery[redis]"), ("redis", "redis"))
        if importlib.util.find_spec(mod) is None
    ]
    if missing:
        print(f"installing {', '.join(missing)} ...", flush=True)
        subprocess.run([PYTHON, "-m", "pip", "install", "-q", *missing], check=True)
    if not shutil.which("redis-server") and shutil.which("apt-get"):
        print("installing redis-server ...", flush=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "redis-server"], check=False, stdout=subprocess.DEVNULL
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _process(
    argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None, log: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process, stopped by its pid (SIGTERM, then SIGKILL) when the block ends."""
    out = log.open("ab") if log else subprocess.DEVNULL
    proc = subprocess.Popen(
        argv, env={**os.environ, **(env or {})}, cwd=cwd, stdout=out, stderr=subprocess.STDOUT
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if log:
            out.close()  # type: ignore[union-attr]


def _wait(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.02)


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2] * 1000, ordered[int(len(ordered) * 0.95)] * 1000


# --- autonomic ----------------------------------------------------------------------------------------


def _autonomic(root: Path, sync: str, args: argparse.Namespace) -> list[tuple[str, float, float, float]]:
    from autonomic.queue.client import QueueClient
    from autonomic.queue.schemas import TaskCreate
    from autonomic.scaffold import init, read_token
    from autonomic.workspace import Workspace

    workspace = Workspace.at(root)
    init(workspace)
    port = _free_port()
    text = workspace.config_file.read_text().replace("port = 8091", f'port = {port}\nsync = "{sync}"')
    workspace.config_file.write_text(text)
    token = read_token(workspace) or ""
    url = f"http://127.0.0.1:{port}"
    print(f"autonomic (sync={sync}) ...", flush=True)
    with _process([PYTHON, "-m", "autonomic", "serve", "--workspace", str(root)], log=root / "server.log"):
        client = QueueClient(url, token, "bench")
        _wait(lambda: _up(client), 20, "the autonomic server")
        drains = []
        for _ in range(args.repeat):
            for start in range(0, args.tasks, 1000):
                count = min(1000, args.tasks - start)
                client.create_many([TaskCreate(type="noop", data={"n": start + i}) for i in range(count)])
            out = subprocess.run(
                [PYTHON, __file__, "--role", "autonomic-drain", url, token, str(args.tasks), str(args.batch)],
                capture_output=True,
                text=True,
                check=True,
            )
            drains.append(float(out.stdout.strip()))
        two_calls, one_call = _autonomic_round_trips(client, root, token, args.round_trips)
        client.close()
    rate = args.tasks / statistics.median(drains)
    label = f"autonomic ({sync})"
    return [
        (f"{label} create+result", rate, *_percentiles(two_calls)),
        (f"{label} run", rate, *_percentiles(one_call)),
    ]


def _up(client: object) -> bool:
    with contextlib.suppress(Exception):
        return bool(client.health())  # type: ignore[attr-defined]
    return False


def _autonomic_round_trips(client: object, root: Path, token: str, n: int) -> tuple[list[float], list[float]]:
    """Round trips through the real worker (`autonomic worker`, AsyncQueueClient) running `ping`."""
    from autonomic.queue.client import QueueClient

    assert isinstance(client, QueueClient)
    worker = [PYTHON, "-m", "autonomic", "worker", "--workspace", str(root), "--types", "ping"]
    worker += ["--concurrency", "1", "--name", "bench-worker", "--token", token]
    with _process(worker, env={"AUTONOMIC_LOG_LEVEL": "WARNING"}, log=root / "worker.log"):
        for _ in range(20):  # warm-up: the worker's long poll is in place, connections are open
            client.run("ping", timeout=30)
        two_calls, one_call = [], []
        for _ in range(n):
            started = time.perf_counter()
            task = client.create("ping")
            assert client.result(task.task_id, wait=10) is not None
            two_calls.append(time.perf_counter() - started)
        for _ in range(n):
            started = time.perf_counter()
            client.run("ping", timeout=10)
            one_call.append(time.perf_counter() - started)
    return two_calls, one_call


def _autonomic_drain(url: str, token: str, total: int, batch: int) -> None:
    """Worker role: claim and answer `total` tasks in batches; print the seconds it took."""
    from autonomic.queue.client import QueueClient
    from autonomic.queue.schemas import ResultIn

    with QueueClient(url, token, "drainer") as client:
        done = 0
        started = time.perf_counter()
        while done < total:
            tasks = client.claim(["noop"], max_tasks=batch, wait=5.0)
            client.submit_many([ResultIn(task_id=t.task_id, success=True, data={}) for t in tasks])
            done += len(tasks)
        print(time.perf_counter() - started)


# --- huey ---------------------------------------------------------------------------------------------


def _huey(tmp: Path, args: argparse.Namespace) -> tuple[str, float, float, float]:
    print("huey (SqliteHuey) ...", flush=True)
    env = {"BENCH_HUEY_DB": str(tmp / "huey.db"), "PYTHONPATH": str(PEERS)}
    os.environ.update(env)
    sys.path.insert(0, str(PEERS))
    import peers as queue_peers

    consumer = [
        PYTHON,
        "-m",
        "huey.bin.huey_consumer",
        "peers.huey",
        "-w",
        "1",
        "-k",
        "thread",
        "-d",
        "0.001",
        "-m",
        "0.001",
        "-b",
        "1.0",
        "-C",
        "-n",
    ]
    drains = []
    for _ in range(args.repeat):
        queue_peers.huey.flush()
        results = [queue_peers.huey_noop() for _ in range(args.tasks)]
        with _process(consumer, env=env, cwd=PEERS, log=tmp / "huey.log"):
            last = _huey_result(results[-1], 120)
            first = _huey_result(results[0], 5)
        drains.append(last - first)
    with _process(consumer, env=env, cwd=PEERS, log=tmp / "huey.log"):
        _huey_result(queue_peers.huey_noop(), 20)  # warm-up: the consumer is up
        samples = []
        for _ in range(args.round_trips):
            started = time.perf_counter()
            _huey_result(queue_peers.huey_noop(), 10)
            samples.append(time.perf_counter() - started)
    return ("huey SqliteHuey", args.tasks / statistics.median(drains), *_percentiles(samples))


def _huey_result(result: object, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while (value := result.get(preserve=True)) is None:  # type: ignore[attr-defined]
        if time.monotonic() > deadline:
            raise SystemExit("huey: timed out waiting for a result")
        time.sleep(0.0002)
    return float(value)


# --- celery -------------------------------------------------------------------------------------------


def _celery(tmp: Path, args: argparse.Namespace) -> tuple[str, float, float, float]:
    print("Celery + Redis ...", flush=True)
    port = _free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"
    env = {"BENCH_REDIS_URL": redis_url, "PYTHONPATH": str(PEERS)}
    redis = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(tmp),
    ]
    worker = [
        PYTHON,
        "-m",
        "celery",
        "-A",
        "peers.celery",
        "worker",
        "-c",
        "1",
        "-P",
        "solo",
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
        "-l",
        "warning",
    ]
    with _process(redis, log=tmp / "redis.log"):
        os.environ.update(env)
        sys.path.insert(0, str(PEERS))
        import peers as queue_peers

        queue_peers.celery.conf.update(broker_url=redis_url, result_backend=redis_url)
        _wait(lambda: _redis_up(port), 10, "redis-server")
        drains = []
        for _ in range(args.repeat):
            results = [queue_peers.celery_noop.delay() for _ in range(args.tasks)]
            with _process(worker, env=env, cwd=PEERS, log=tmp / "celery.log"):
                last = float(results[-1].get(timeout=300, interval=0.001))
                first = float(results[0].get(timeout=10))
            drains.append(last - first)
        with _process(worker, env=env, cwd=PEERS, log=tmp / "celery.log"):
            queue_peers.celery_noop.delay().get(timeout=30)
            samples = []
            for _ in range(args.round_trips):
                started = time.perf_counter()
                queue_peers.celery_noop.delay().get(timeout=10, interval=0.0002)
                samples.append(time.perf_counter() - started)
    return ("Celery + Redis", args.tasks / statistics.median(drains), *_percentiles(samples))


def _redis_up(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")
    return False


# --- report -------------------------------------------------------------------------------------------


def _report(rows: list[tuple[str, float, float, float]], args: argparse.Namespace) -> None:
    huey = next(r for r in rows if r[0].startswith("huey"))
    celery = next((r for r in rows if r[0].startswith("Celery")), None)
    print(
        f"\n{args.tasks} no-op tasks, one worker process; {args.round_trips} round trips; "
        f"drain = median of {args.repeat}\n"
    )
    header = f"{'system':34} {'drain tasks/s':>13} {'x huey':>7} {'rt p50 ms':>10} {'rt p95 ms':>10}"
    print(header + (f" {'p50 vs celery':>14}" if celery else ""))
    for name, rate, p50, p95 in rows:
        line = f"{name:34} {rate:13,.0f} {rate / huey[1]:7.2f} {p50:10.3f} {p95:10.3f}"
        print(line + (f" {celery[2] / p50:13.2f}x" if celery else ""))


if __name__ == "__main__":
    options = _arguments()
    if options.role == "autonomic-drain":
        _autonomic_drain(options.rest[0], options.rest[1], int(options.rest[2]), int(options.rest[3]))
    else:
        main()
