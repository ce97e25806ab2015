"""The queue on PostgreSQL: autonomic's default worker against procrastinate and pgqueuer, one cluster.

Run (one command, from the repo root):

    .venv/bin/python benchmarks/queue_postgres.py      # --tasks 5000 --round-trips 200 --repeat 3

It installs its peers if they are missing (procrastinate and pgqueuer, with pip, into this
interpreter's environment), starts a throwaway PostgreSQL cluster (Debian's initdb/postgres, a temp
dir, a free port, its default durability: fsync and synchronous_commit on), gives each system a
database of its own on it, and stops every process by its pid at the end. Measured in one run:

- drain: N no-op tasks already queued, one worker process with its defaults started; tasks/s from
  the first task's start to the last task's end (median of --repeat runs). autonomic: `autonomic
  serve` on the cluster and `autonomic worker` as a user runs it (built-in `ping`), the end being
  the result's commit; procrastinate: its worker (`run_worker_async`, concurrency 1, the end being
  the task function's return); pgqueuer: its QueueManager (`run`, batch 10, drain mode, ditto).
- the same drain with two autonomic servers sharing the database and four workers split across them
  (`--server A,B` / `--server B,A`).
- round trip: enqueue one task, the waiting worker runs it, the enqueuer sees it finished; p50 / p95
  ms. autonomic: `QueueClient.run` (one call); procrastinate: defer, then its job row read every
  0.2 ms until `succeeded`; pgqueuer: enqueue, then its queue row read every 0.2 ms until deleted
  (pgqueuer batches completions, flushing at least every 0.1 s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable
# Running this file puts its folder first on sys.path, where benchmarks/queue.py would shadow the stdlib.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))
QUIET = {"AUTONOMIC_LOG_LEVEL": "WARNING"}


@dataclass(frozen=True)
class Row:
    system: str
    drain: float | None  # tasks/s
    p50: float | None = None  # ms
    p95: float | None = None


def main() -> None:
    args = _arguments()
    _ensure_peers()
    from tests.postgres.cluster import Cluster

    load = os.getloadavg()
    cluster = Cluster.start(settings=())
    rows: list[Row] = []
    try:
        with tempfile.TemporaryDirectory(prefix="queue-pg-bench-") as tmp:
            rows += _autonomic(cluster, Path(tmp), args)
            rows.append(_procrastinate(cluster, Path(tmp), args))
            rows.append(_pgqueuer(cluster, Path(tmp), args))
    finally:
        cluster.stop()
    _report(rows, args, load)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--round-trips", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--role", help=argparse.SUPPRESS)
    parser.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    return parser.parse_args()


def _ensure_peers() -> None:
    """Benchmark-only dependencies, installed on first use (never needed by autonomic itself)."""
    wanted = (
        ("procrastinate", "procrastinate"),
        ("pgqueuer", "pgqueuer"),
        ("psycopg_pool", "psycopg_pool"),
        ("asyncpg", "asyncpg"),
    )
    missing = [pkg for mod, pkg in wanted if importlib.util.find_spec(mod) is None]
    if missing:
        print(f"installing {', '.join(missing)} ...", flush=True)
        subprocess.run([PYTHON, "-m", "pip", "install", "-q", *missing], check=True)


@contextlib.contextmanager
def _process(
    argv: list[str], log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process, stopped by its pid (SIGTERM, then SIGKILL) when the block ends."""
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT)
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


def _role(name: str, *rest: object) -> float:
    out = subprocess.run([PYTHON, __file__, "--role", name, *map(str, rest)], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{name} failed: {out.stderr[-2000:]}")
    return float(out.stdout.strip().splitlines()[-1])


# --- autonomic ----------------------------------------------------------------------------------------


def _autonomic(cluster: Any, tmp: Path, args: argparse.Namespace) -> list[Row]:
    from tests.queue.support import make_workspace

    from autonomic.queue.client import QueueClient

    store = cluster.url(cluster.create_database("autonomic"))
    a = make_workspace(tmp / "a", store=store, reap_interval="1s")
    b = make_workspace(tmp / "b", store=store, reap_interval="1s")
    b.token_file.write_text(a.token_file.read_text())
    token = a.token_file.read_text().strip()
    urls = [_url(a), _url(b)]
    rows = []
    serve = [PYTHON, "-m", "autonomic", "serve", "--workspace"]
    with (
        _process([*serve, str(a.root)], a.root / "server.log"),
        QueueClient(urls[0], token, "bench") as client,
    ):
        _wait(lambda: _up(client), 30, "the autonomic server")
        worker = [PYTHON, "-m", "autonomic", "worker", "--workspace", str(a.root)]
        print("autonomic worker (defaults) ...", flush=True)
        drains = [_autonomic_drain(client, store, [worker], a.root, args.tasks) for _ in range(args.repeat)]
        p50, p95 = _autonomic_round_trips(client, worker, a.root, args.round_trips)
        rows.append(Row("autonomic worker (defaults)", statistics.median(drains), p50, p95))
        with _process([*serve, str(b.root)], b.root / "server.log"), QueueClient(urls[1], token) as other:
            _wait(lambda: _up(other), 30, "the second autonomic server")
            print("autonomic, 2 servers x 4 workers ...", flush=True)
            four = [
                [*worker, "--name", f"w{i}", "--server", ",".join(urls if i % 2 == 0 else urls[::-1])]
                for i in range(4)
            ]
            drains = [_autonomic_drain(client, store, four, a.root, args.tasks) for _ in range(args.repeat)]
            rows.append(Row("autonomic, 2 servers x 4 workers (defaults)", statistics.median(drains)))
    return rows


def _url(workspace: Any) -> str:
    from autonomic import config

    return str(config.load(workspace).queue.url)


def _up(client: Any) -> bool:
    with contextlib.suppress(Exception):
        return bool(client.health())
    return False


def _autonomic_drain(client: Any, store: str, workers: list[list[str]], root: Path, total: int) -> float:
    """Queue `total` pings, start the worker(s), time from the first claim to the last result's commit."""
    from autonomic.queue.schemas import TaskCreate

    since = time.time()
    for start in range(0, total, 1000):
        count = min(1000, total - start)
        client.create_many([TaskCreate(type="ping", data={"n": start + i}) for i in range(count)])
    with contextlib.ExitStack() as stack:
        for n, argv in enumerate(workers):
            stack.enter_context(_process(argv, root / f"worker{n}.log", QUIET))
        _wait(lambda: _settled(client), 600, "the drain")
    first, last = _span(store, since)
    return total / (last - first)


def _settled(client: Any) -> bool:
    stats: dict[str, int] = client.stats()
    return stats["pending"] == 0 and stats["inflight"] == 0


def _span(store: str, since: float) -> tuple[float, float]:
    import psycopg

    with psycopg.connect(store) as conn:
        row = conn.execute(
            "SELECT min(leased_at), max(finished_at) FROM autonomic.tasks WHERE created_at >= %s", (since,)
        ).fetchone()
    assert row is not None and row[0] is not None
    return float(row[0]), float(row[1])


def _autonomic_round_trips(client: Any, worker: list[str], root: Path, n: int) -> tuple[float, float]:
    with _process(worker, root / "worker-rt.log", QUIET):
        for _ in range(20):  # warm-up: the worker's long poll is in place, connections are open
            client.run("ping", timeout=30)
        samples = []
        for _ in range(n):
            started = time.perf_counter()
            client.run("ping", timeout=10)
            samples.append(time.perf_counter() - started)
    return _percentiles(samples)


# --- procrastinate ------------------------------------------------------------------------------------


def _procrastinate_app(url: str) -> Any:
    from procrastinate import App, PsycopgConnector

    app = App(connector=PsycopgConnector(conninfo=url))
    return app


def _procrastinate(cluster: Any, tmp: Path, args: argparse.Namespace) -> Row:
    url = cluster.url(cluster.create_database("procrastinate"))
    asyncio.run(_procrastinate_schema(url))
    print("procrastinate ...", flush=True)
    drains = []
    for _ in range(args.repeat):
        asyncio.run(_procrastinate_enqueue(url, args.tasks))
        drains.append(_role("procrastinate-drain", url, args.tasks))
    with _process([PYTHON, __file__, "--role", "procrastinate-worker", url], tmp / "procrastinate.log"):
        time.sleep(2.0)
        p50, p95 = asyncio.run(_procrastinate_round_trips(url, args.round_trips))
    return Row("procrastinate (run_worker_async defaults)", statistics.median(drains), p50, p95)


def _noop_task(app: Any, marks: list[float] | None = None) -> Any:
    @app.task(name="noop")  # type: ignore[untyped-decorator, unused-ignore]
    async def noop() -> None:
        if marks is not None:
            if not marks:
                marks.append(time.time())
            marks[1:] = [time.time()]

    return noop


async def _procrastinate_schema(url: str) -> None:
    app = _procrastinate_app(url)
    async with app.open_async():
        await app.schema_manager.apply_schema_async()


async def _procrastinate_enqueue(url: str, total: int) -> None:
    app = _procrastinate_app(url)
    noop = _noop_task(app)
    async with app.open_async():
        for start in range(0, total, 1000):
            await noop.batch_defer_async(*[{} for _ in range(min(1000, total - start))])


async def _procrastinate_drain_role(url: str, total: int) -> None:
    app = _procrastinate_app(url)
    marks: list[float] = []
    _noop_task(app, marks)
    async with app.open_async():
        await app.run_worker_async(wait=False)
    print(total / (marks[-1] - marks[0]))


async def _procrastinate_worker_role(url: str) -> None:
    app = _procrastinate_app(url)
    _noop_task(app)
    async with app.open_async():
        await app.run_worker_async()


async def _procrastinate_round_trips(url: str, n: int) -> tuple[float, float]:
    import psycopg

    app = _procrastinate_app(url)
    noop = _noop_task(app)
    samples = []
    async with app.open_async(), await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        for i in range(n + 20):
            started = time.perf_counter()
            job = await noop.defer_async()
            while True:
                cur = await conn.execute("SELECT status FROM procrastinate_jobs WHERE id = %s", (job,))
                row = await cur.fetchone()
                if row is not None and row[0] == "succeeded":
                    break
                await asyncio.sleep(0.0002)
            if i >= 20:  # the first 20 warm up
                samples.append(time.perf_counter() - started)
    return _percentiles(samples)


# --- pgqueuer -----------------------------------------------------------------------------------------


def _pgqueuer(cluster: Any, tmp: Path, args: argparse.Namespace) -> Row:
    url = cluster.url(cluster.create_database("pgqueuer"))
    asyncio.run(_pgqueuer_install(url))
    print("pgqueuer ...", flush=True)
    drains = []
    for _ in range(args.repeat):
        asyncio.run(_pgqueuer_enqueue(url, args.tasks))
        drains.append(_role("pgqueuer-drain", url, args.tasks))
    with _process([PYTHON, __file__, "--role", "pgqueuer-worker", url], tmp / "pgqueuer.log"):
        time.sleep(2.0)
        p50, p95 = asyncio.run(_pgqueuer_round_trips(url, args.round_trips))
    return Row("pgqueuer (QueueManager.run defaults)", statistics.median(drains), p50, p95)


async def _pgqueuer_queries(url: str) -> tuple[Any, Any]:
    """pgqueuer over asyncpg, the driver its documentation starts with."""
    import asyncpg
    from pgqueuer.queries import Queries

    conn = await asyncpg.connect(url)
    return conn, Queries.from_asyncpg_connection(conn)


async def _pgqueuer_install(url: str) -> None:
    conn, queries = await _pgqueuer_queries(url)
    try:
        await queries.install()
    finally:
        await conn.close()


async def _pgqueuer_enqueue(url: str, total: int) -> None:
    conn, queries = await _pgqueuer_queries(url)
    try:
        for start in range(0, total, 1000):
            count = min(1000, total - start)
            await queries.enqueue(["noop"] * count, [None] * count, [0] * count)
    finally:
        await conn.close()


async def _pgqueuer_manager(url: str, marks: list[float] | None) -> tuple[Any, Any]:
    from pgqueuer.qm import QueueManager

    conn, queries = await _pgqueuer_queries(url)
    manager = QueueManager(queries)

    @manager.entrypoint("noop")  # type: ignore[untyped-decorator, unused-ignore]
    async def noop(job: Any) -> None:
        if marks is not None:
            if not marks:
                marks.append(time.time())
            marks[1:] = [time.time()]

    return conn, manager


async def _pgqueuer_drain_role(url: str, total: int) -> None:
    from pgqueuer.types import QueueExecutionMode

    marks: list[float] = []
    conn, manager = await _pgqueuer_manager(url, marks)
    try:
        await manager.run(mode=QueueExecutionMode.drain)
    finally:
        await conn.close()
    print(total / (marks[-1] - marks[0]))


async def _pgqueuer_worker_role(url: str) -> None:
    conn, manager = await _pgqueuer_manager(url, None)
    try:
        await manager.run()
    finally:
        await conn.close()


async def _pgqueuer_round_trips(url: str, n: int) -> tuple[float, float]:
    conn, queries = await _pgqueuer_queries(url)
    samples = []
    try:
        for i in range(n + 20):
            started = time.perf_counter()
            [job] = await queries.enqueue("noop", None)
            while await conn.fetchrow("SELECT 1 FROM pgqueuer WHERE id = $1", job) is not None:
                await asyncio.sleep(0.0002)
            if i >= 20:
                samples.append(time.perf_counter() - started)
    finally:
        await conn.close()
    return _percentiles(samples)


# --- report -------------------------------------------------------------------------------------------


def _report(rows: list[Row], args: argparse.Namespace, load: tuple[float, float, float]) -> None:
    base = next(r for r in rows if r.system.startswith("procrastinate"))
    print(
        f"\n{args.tasks} no-op tasks on PostgreSQL (one cluster, fsync on), one worker process unless "
        f"said; {args.round_trips} round trips; drain = median of {args.repeat}; load average before the "
        f"run {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs\n"
    )
    print(f"{'system':46} {'drain tasks/s':>13} {'x procr.':>8} {'rt p50 ms':>10} {'rt p95 ms':>10}")
    for row in rows:
        ratio = f"{row.drain / base.drain:8.2f}" if row.drain and base.drain else " " * 8
        drain = f"{row.drain:13,.0f}" if row.drain else " " * 13
        rt = f" {row.p50:10.3f} {row.p95:10.3f}" if row.p50 is not None and row.p95 is not None else ""
        print(f"{row.system:46} {drain} {ratio}{rt}")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = HERE / "results" / f"queue_postgres-{stamp}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps({"args": vars(args), "load": load, "rows": [asdict(r) for r in rows]}, indent=2)
    )
    print(f"\nwritten to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    options = _arguments()
    if options.role == "procrastinate-drain":
        asyncio.run(_procrastinate_drain_role(options.rest[0], int(options.rest[1])))
    elif options.role == "procrastinate-worker":
        asyncio.run(_procrastinate_worker_role(options.rest[0]))
    elif options.role == "pgqueuer-drain":
        asyncio.run(_pgqueuer_drain_role(options.rest[0], int(options.rest[1])))
    elif options.role == "pgqueuer-worker":
        asyncio.run(_pgqueuer_worker_role(options.rest[0]))
    else:
        main()
