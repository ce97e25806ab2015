"""Task queue benchmark: the real `autonomic worker` against huey (SqliteHuey) and Celery on Redis.

Run (one command, from the repo root):

    .venv/bin/python benchmarks/queue.py            # --tasks 10000 --round-trips 500 --repeat 3
    .venv/bin/python benchmarks/queue.py --only rt  # the round trips alone (default worker, huey, Celery)

It installs its peers if they are missing (huey and celery[redis] into this interpreter's
environment with pip; redis-server with apt-get), starts redis-server on a free loopback port and
every consumer itself, and stops each by pid at the end. Measured, for each system, in one run:

- drain: N no-op tasks already queued, one worker process started; tasks/s from the first task's
  start to the last result stored (median of --repeat runs). autonomic: `autonomic worker` as a
  user runs it (its default settings, then --concurrency 1 and 16) running the built-in `ping`;
  huey: its consumer, one thread worker; Celery: one solo worker.
- round trip: enqueue one task, the waiting worker runs it, the result is back with the enqueuer;
  p50 / p95 ms over --repeat rounds of --round-trips each, every round with freshly started processes
  (autonomic's server and worker, huey's consumer, Celery's worker), the samples pooled: where the
  scheduler places the processes on the CPUs moves one round's p50 by 20 % and more on this 2-CPU
  machine, for every system alike. autonomic: `QueueClient.run` (POST /api/tasks/create?wait=, one
  call) through the same worker; huey's consumer and result reads poll every 1 ms / 0.2 ms (its
  defaults start at 100 ms); Celery's result reads poll every 0.2 ms.
- server ceiling: not a worker a user runs, two pipelined loops that claim and answer in batches of
  --batch (the server's default cap): what the queue server itself sustains.

Every figure is also given as a ratio to huey's. autonomic runs with its default `sync = "normal"`
(SQLite WAL without fsync per commit); huey's SqliteHuey default is the same, Redis' default is no
fsync per write.
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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autonomic.queue.client import QueueClient

HERE = Path(__file__).resolve().parent
PEERS = HERE / "queue_peers"  # its own folder: on a path with this file, `queue` would shadow the stdlib's
PYTHON = sys.executable
# Running this file puts its folder first on sys.path, where it would shadow the stdlib `queue`.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
WORKERS: tuple[tuple[str, list[str]], ...] = (
    ("autonomic worker (defaults)", []),
    ("autonomic worker --concurrency 1", ["--concurrency", "1"]),
    ("autonomic worker --concurrency 16", ["--concurrency", "16"]),
)


@dataclass(frozen=True)
class Row:
    system: str
    drain: float | None  # tasks/s
    p50: float | None = None  # ms
    p95: float | None = None


def main() -> None:
    args = _arguments()
    _ensure_peers()
    load = os.getloadavg()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="queue-bench-") as tmp:
        rows += _autonomic(Path(tmp) / "ws", args)
        rows.append(_huey(Path(tmp), args))
        if shutil.which("redis-server"):
            rows.append(_celery(Path(tmp), args))
        else:
            print("redis-server is not installed and apt-get could not install it: Celery skipped")
    _report(rows, args, load)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--round-trips", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1000, help="the server-ceiling client's batch size")
    parser.add_argument(
        "--only",
        choices=("all", "rt"),
        default="all",
        help="rt: only the round trips (the default worker, huey, Celery), no drains",
    )
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
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(log.open("ab")) if log else subprocess.DEVNULL
        proc = subprocess.Popen(
            argv, env={**os.environ, **(env or {})}, cwd=cwd, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


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


def _autonomic(root: Path, args: argparse.Namespace) -> list[Row]:
    from autonomic.api_token import read as read_token
    from autonomic.queue.client import QueueClient
    from autonomic.scaffold import init
    from autonomic.workspace import Workspace

    workspace = Workspace.at(root)
    init(workspace)
    port = _free_port()
    text = workspace.config_file.read_text().replace("port = 8091", f"port = {port}")
    workspace.config_file.write_text(text)
    token = read_token(workspace) or ""
    url = f"http://127.0.0.1:{port}"
    serve = [PYTHON, "-m", "autonomic", "serve", "--workspace", str(root)]
    client = QueueClient(url, token, "bench")
    rows = []
    try:
        for label, extra in WORKERS[:1] if args.only == "rt" else WORKERS:
            print(f"{label} ...", flush=True)
            worker = [PYTHON, "-m", "autonomic", "worker", "--workspace", str(root), *extra]
            drain = None
            if args.only != "rt":
                with _serving(serve, client, root):
                    drains = [_autonomic_drain(client, worker, root, args.tasks) for _ in range(args.repeat)]
                drain = statistics.median(drains)
            rows.append(Row(label, drain, *_autonomic_round_trips(client, serve, worker, root, args)))
        if args.only != "rt":
            print("server ceiling ...", flush=True)
            ceiling = []
            with _serving(serve, client, root):
                for _ in range(args.repeat):
                    _enqueue_pings(client, args.tasks)
                    role = [
                        PYTHON,
                        __file__,
                        "--role",
                        "ceiling",
                        url,
                        token,
                        str(args.tasks),
                        str(args.batch),
                    ]
                    out = subprocess.run(role, capture_output=True, text=True, check=True)
                    ceiling.append(args.tasks / float(out.stdout.strip()))
            rows.append(
                Row(f"server ceiling (batch client, {args.batch}/request)", statistics.median(ceiling))
            )
    finally:
        client.close()
    return rows


@contextlib.contextmanager
def _serving(serve: list[str], client: QueueClient, root: Path) -> Iterator[None]:
    """The autonomic queue server of the benchmark's workspace, up for the block, stopped by pid after it."""
    with _process(serve, log=root / "server.log"):
        _wait(lambda: _up(client), 20, "the autonomic server")
        yield


def _up(client: QueueClient) -> bool:
    with contextlib.suppress(Exception):
        return bool(client.health())
    return False


def _enqueue_pings(client: QueueClient, total: int) -> list[str]:
    from autonomic.queue.schemas import TaskCreate

    ids: list[str] = []
    for start in range(0, total, 1000):
        count = min(1000, total - start)
        created = client.create_many([TaskCreate(type="ping", data={"n": start + i}) for i in range(count)])
        ids += [task.task_id for task in created]
    return ids


def _autonomic_drain(client: QueueClient, worker: list[str], root: Path, total: int) -> float:
    """Queue `total` pings, start the worker, and time from the first ping run to the last result stored."""
    ids = _enqueue_pings(client, total)
    env = {"AUTONOMIC_LOG_LEVEL": "WARNING"}
    with _process(worker, env=env, log=root / "worker.log"):
        last = client.result(ids[-1], wait=300)
        assert last is not None, "the drain did not finish"
        _wait(lambda: client.stats()["pending"] == 0 and client.stats()["inflight"] == 0, 120, "the drain")
    first = client.result(ids[0])
    assert first is not None and first.data is not None
    started = datetime.fromisoformat(str(first.data["timestamp"])).timestamp()
    tail = [client.result(task_id) for task_id in ids[-64:]]
    finished = max(result.submitted_at.timestamp() for result in tail if result is not None)
    return total / (finished - started)


def _autonomic_round_trips(
    client: QueueClient, serve: list[str], worker: list[str], root: Path, args: argparse.Namespace
) -> tuple[float, float]:
    """Round trips through the worker: `QueueClient.run("ping")`, one call each; every round with a
    freshly started server and worker (where the scheduler puts them is drawn again each round)."""
    env = {"AUTONOMIC_LOG_LEVEL": "WARNING"}
    samples: list[float] = []
    for _ in range(args.repeat):
        with _serving(serve, client, root), _process(worker, env=env, log=root / "worker.log"):
            for _ in range(20):  # warm-up: the worker's long poll is in place, connections are open
                client.run("ping", timeout=30)
            samples += _timed(args.round_trips, lambda: client.run("ping", timeout=10))
    return _percentiles(samples)


def _timed(n: int, call: Callable[[], object]) -> list[float]:
    """Seconds each of `n` calls took (one round of round trips)."""
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def _ceiling_role(url: str, token: str, total: int, batch: int) -> None:
    """The server-ceiling client: two pipelined loops claim and answer in batches; prints the seconds."""
    import asyncio

    from autonomic.queue.client import AsyncQueueClient
    from autonomic.queue.schemas import ResultIn

    async def drain() -> float:
        left = total

        finished = asyncio.Event()

        async def loop(client: AsyncQueueClient) -> None:
            nonlocal left
            while left > 0:
                tasks = await client.claim(["ping"], max_tasks=batch, wait=5.0)
                answers = [ResultIn(task_id=t.task_id, success=True, data={}) for t in tasks]
                if answers:
                    await client.submit_many(answers)
                left -= len(tasks)
            finished.set()

        clients = [AsyncQueueClient(url, token, f"ceiling-{n}") for n in range(2)]
        started = time.perf_counter()
        loops = [asyncio.ensure_future(loop(client)) for client in clients]
        await finished.wait()  # the other loop may be in a claim that will find nothing: cut it short
        elapsed = time.perf_counter() - started
        for job in loops:
            job.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        for client in clients:
            await client.close()
        return elapsed

    print(asyncio.run(drain()))


# --- huey ---------------------------------------------------------------------------------------------


def _peers() -> Any:
    sys.path.insert(0, str(PEERS))
    import peers

    return peers


def _huey(tmp: Path, args: argparse.Namespace) -> Row:
    print("huey (SqliteHuey) ...", flush=True)
    env = {"BENCH_HUEY_DB": str(tmp / "huey.db"), "PYTHONPATH": str(PEERS)}
    os.environ.update(env)
    peers = _peers()
    consumer = [PYTHON, "-m", "huey.bin.huey_consumer", "peers.huey", "-w", "1", "-k", "thread"]
    consumer += ["-d", "0.001", "-m", "0.001", "-b", "1.0", "-C", "-n"]
    drains = []
    for _ in range(0 if args.only == "rt" else args.repeat):
        peers.huey.flush()
        results = [peers.huey_noop() for _ in range(args.tasks)]
        with _process(consumer, env=env, cwd=PEERS, log=tmp / "huey.log"):
            last = _huey_result(results[-1], 120)
            first = _huey_result(results[0], 5)
        drains.append(args.tasks / (last - first))
    samples: list[float] = []
    for _ in range(args.repeat):
        with _process(consumer, env=env, cwd=PEERS, log=tmp / "huey.log"):
            _huey_result(peers.huey_noop(), 20)  # warm-up: the consumer is up
            samples += _timed(args.round_trips, lambda: _huey_result(peers.huey_noop(), 10))
    drain = statistics.median(drains) if drains else None
    return Row("huey SqliteHuey (1 thread)", drain, *_percentiles(samples))


def _huey_result(result: Any, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while (value := result.get(preserve=True)) is None:
        if time.monotonic() > deadline:
            raise SystemExit("huey: timed out waiting for a result")
        time.sleep(0.0002)
    return float(value)


# --- celery -------------------------------------------------------------------------------------------


def _celery(tmp: Path, args: argparse.Namespace) -> Row:
    print("Celery + Redis ...", flush=True)
    port = _free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"
    env = {"BENCH_REDIS_URL": redis_url, "PYTHONPATH": str(PEERS)}
    redis = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    redis += ["--dir", str(tmp)]
    worker = [PYTHON, "-m", "celery", "-A", "peers.celery", "worker", "-c", "1", "-P", "solo"]
    worker += ["--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "warning"]
    with _process(redis, log=tmp / "redis.log"):
        os.environ.update(env)
        peers = _peers()
        peers.celery.conf.update(broker_url=redis_url, result_backend=redis_url)
        _wait(lambda: _redis_up(port), 10, "redis-server")
        drains = []
        for _ in range(0 if args.only == "rt" else args.repeat):
            results = [peers.celery_noop.delay() for _ in range(args.tasks)]
            with _process(worker, env=env, cwd=PEERS, log=tmp / "celery.log"):
                last = float(results[-1].get(timeout=300, interval=0.001))
                first = float(results[0].get(timeout=10))
            drains.append(args.tasks / (last - first))
        samples: list[float] = []
        for _ in range(args.repeat):
            with _process(worker, env=env, cwd=PEERS, log=tmp / "celery.log"):
                peers.celery_noop.delay().get(timeout=30)
                samples += _timed(
                    args.round_trips, lambda: peers.celery_noop.delay().get(timeout=10, interval=0.0002)
                )
    drain = statistics.median(drains) if drains else None
    return Row("Celery + Redis (solo)", drain, *_percentiles(samples))


def _redis_up(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")
    return False


# --- report -------------------------------------------------------------------------------------------


def _report(rows: list[Row], args: argparse.Namespace, load: tuple[float, float, float]) -> None:
    huey = next(r for r in rows if r.system.startswith("huey"))
    celery = next((r for r in rows if r.system.startswith("Celery")), None)
    print(
        f"\n{args.tasks} no-op tasks, one worker process; {args.repeat} x {args.round_trips} round trips; "
        f"drain = median of {args.repeat}; load average before the run {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
        f"on {os.cpu_count()} CPUs\n"
    )
    print(
        f"{'system':46} {'drain tasks/s':>13} {'x huey':>7} {'rt p50 ms':>10} {'rt p95 ms':>10} "
        f"{'p50 x huey':>10} {'p50 x celery':>12}"
    )
    for row in rows:
        drain = f"{row.drain:13,.0f} {row.drain / huey.drain:7.2f}" if row.drain and huey.drain else " " * 21
        if row.p50 is None or row.p95 is None:
            print(f"{row.system:46} {drain}")
            continue
        vs_huey = f"{row.p50 / huey.p50:10.2f}" if huey.p50 else " " * 10
        vs_celery = f"{row.p50 / celery.p50:12.2f}" if celery and celery.p50 else ""
        print(f"{row.system:46} {drain} {row.p50:10.3f} {row.p95:10.3f} {vs_huey} {vs_celery}")


if __name__ == "__main__":
    options = _arguments()
    if options.role == "ceiling":
        _ceiling_role(options.rest[0], options.rest[1], int(options.rest[2]), int(options.rest[3]))
    else:
        main()
