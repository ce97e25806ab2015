"""Issue 15: two queue servers on one PostgreSQL database, four workers split across them, kill -9 of
servers and workers while a producer enqueues with idempotency keys.

Every acknowledged task ends done or dead-lettered (none lost), none runs more often than it was
handed out (a second run only after a lease expired), and the workers of a killed server carry on
through the other one (`--server URL1,URL2`).
"""

from __future__ import annotations

import collections
import contextlib
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from autonomic.errors import QueueError
from autonomic.queue.store.postgres.store import PostgresStore
from autonomic.queue.task import TaskStatus
from autonomic.workspace import Workspace
from tests.helpers import PYTHON, kill_tree, wait_until
from tests.queue.support import Server, make_workspace, start_server

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TASKS = 240
JOBS = """
import os, time

def record(key, path, pause):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{key} {os.getpid()}\\n".encode())
    finally:
        os.close(fd)
    time.sleep(pause)
    return {"key": key}
"""


def _worker_workspace(root: Path) -> Workspace:
    root.mkdir(parents=True)
    (root / "jobs.py").write_text(JOBS)
    (root / "autonomic.toml").write_text(
        '[worker]\nallow = ["python"]\npython_modules = ["jobs"]\nconcurrency = 2\nprefetch = 1\n'
        'lease = "2s"\npoll_wait = "3s"\ndrain_timeout = "2s"\n'
    )
    return Workspace.at(root)


def _start_worker(
    workspace: Workspace, name: str, urls: list[str], token_file: Path
) -> subprocess.Popen[bytes]:
    log = (workspace.root / f"{name}.log").open("ab")
    proc = subprocess.Popen(
        [PYTHON, "-m", "autonomic", "worker", "--workspace", str(workspace.root), "--name", name,
         "--server", ",".join(urls), "--token-file", str(token_file)],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
    log.close()
    return proc


class Producer(threading.Thread):
    """Enqueues TASKS tasks, each with its own idempotency key, alternating servers; a create that
    fails is retried with the same key on the other server until it is acknowledged."""

    def __init__(self, servers: list[Server], record: Path) -> None:
        super().__init__(daemon=True)
        self.servers = servers
        self.record = record
        self.acked: dict[str, str] = {}  # key -> task id
        self.retries = 0

    def run(self) -> None:
        for n in range(TASKS):
            key = f"job-{n}"
            data = {
                "function": "jobs:record",
                "kwargs": {"key": key, "path": str(self.record), "pause": 0.2},
            }
            for attempt in range(200):
                server = self.servers[(n + attempt) % 2]
                try:
                    with server.client("producer") as client:
                        created = client.create("python", data, idempotency_key=key)
                except (QueueError, OSError):
                    self.retries += 1
                    time.sleep(0.05)
                    continue
                self.acked[key] = created.task_id
                break
            time.sleep(0.02)


def test_two_servers_four_workers_under_kill_9(tmp_path: Path, pg_url: str) -> None:
    started: list[int] = []
    record = tmp_path / "runs.log"
    settings = {"store": pg_url, "reap_interval": "100ms", "retry_delay": "100ms", "retry_max_delay": "500ms"}
    ws_a = make_workspace(tmp_path / "a", **settings)
    ws_b = make_workspace(tmp_path / "b", **settings)
    ws_b.token_file.write_text(ws_a.token_file.read_text())
    a, b = start_server(ws_a, started), start_server(ws_b, started)
    workers: dict[str, subprocess.Popen[bytes]] = {}
    homes: dict[str, tuple[Workspace, list[str]]] = {}
    try:
        for i in range(4):
            urls = [a.url, b.url] if i < 2 else [b.url, a.url]
            homes[f"w{i}"] = (_worker_workspace(tmp_path / f"w{i}"), urls)
            workers[f"w{i}"] = _start_worker(homes[f"w{i}"][0], f"w{i}", urls, ws_a.token_file)
            started.append(workers[f"w{i}"].pid)
        producer = Producer([a, b], record)
        producer.start()

        def restart_worker(name: str) -> None:
            workers[name].kill()
            workers[name].wait(10)
            workers[name] = _start_worker(homes[name][0], name, homes[name][1], ws_a.token_file)
            started.append(workers[name].pid)

        time.sleep(1.5)
        a.kill()  # w0 and w1 must carry on through b
        time.sleep(1.0)
        restart_worker("w0")
        time.sleep(1.5)
        a = start_server(ws_a, started)
        time.sleep(1.0)
        b.kill()  # now w2 and w3 move to a
        restart_worker("w3")
        time.sleep(1.5)
        b = start_server(ws_b, started)
        producer.servers = [a, b]
        producer.join(90)
        assert not producer.is_alive(), "the producer did not finish"
        assert len(producer.acked) == TASKS

        store = PostgresStore(pg_url)
        try:

            def settled() -> bool:
                counts = store.counts()
                return counts.of(TaskStatus.PENDING) + counts.of(TaskStatus.LEASED) == 0

            wait_until(settled, timeout=90, interval=0.5, what="every task done or dead-lettered")
            tasks = {tid: store.get(tid) for tid in set(producer.acked.values())}
        finally:
            store.close()

        # one task per key, however often its create was retried on either server
        assert len(set(producer.acked.values())) == TASKS
        statuses = collections.Counter(t.status for t in tasks.values())
        assert set(statuses) <= {TaskStatus.DONE, TaskStatus.DEAD}, statuses  # none lost
        runs = collections.Counter(line.split()[0] for line in record.read_text().splitlines())
        by_key = {t.data["kwargs"]["key"]: t for t in tasks.values()}
        twice = {key: n for key, n in runs.items() if n > 1}
        beyond = {key: (n, by_key[key].attempts) for key, n in runs.items() if n > by_key[key].attempts}
        assert not beyond, f"run more often than handed out (only a lease expiry may repeat a run): {beyond}"
        done = [key for key, t in by_key.items() if t.status is TaskStatus.DONE]
        assert all(runs[key] >= 1 for key in done)
        moved = [n for n in ("w1", "w2") if "using http" in (tmp_path / n / f"{n}.log").read_text()]
        assert moved == ["w1", "w2"], "the workers of a killed server did not move to the other"
        print(f"\nchaos: {TASKS} acked ({producer.retries} create retries), {dict(statuses)}, "
              f"{len(twice)} run twice after a lease expiry")  # fmt: skip
    finally:
        for proc in workers.values():
            with contextlib.suppress(OSError):
                proc.kill()
        kill_tree(started)
