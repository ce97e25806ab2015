"""Several queue servers over one PostgreSQL database: wake-ups across servers, one task per
idempotency key, migrations once, the password never shown."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from autonomic.clock import FakeClock
from autonomic.errors import ConfigError, StoreError
from autonomic.queue.schemas import Result, WorkerInfo
from autonomic.queue.store import open_store
from autonomic.queue.store.postgres.store import PostgresStore
from autonomic.queue.store.postgres.url import parse, redact
from autonomic.queue.store.records import NewTask
from autonomic.queue.task import TaskStatus
from tests.postgres.cluster import PASSWORD, Cluster
from tests.postgres.conftest import StartServer

pytestmark = pytest.mark.postgres


def test_a_long_poll_on_one_server_wakes_when_another_enqueues(servers: StartServer) -> None:
    a, b = servers(), servers()
    with a.client("producer") as producer, b.client("w1") as worker:
        found: list[list[str]] = []

        def poll() -> None:
            started = time.monotonic()
            found.append([t.task_id for t in worker.claim(["wake"], wait=15.0)])
            found.append([f"{time.monotonic() - started:.3f}"])

        poller = threading.Thread(target=poll)
        poller.start()
        time.sleep(1.0)  # the claim is waiting on server b
        created = producer.create("wake", {"n": 1})
        enqueued = time.monotonic()
        poller.join(20)
        woke = time.monotonic() - enqueued
        assert found[0] == [created.task_id]
        assert woke < 2.0, f"the poll on b took {woke:.2f}s to see a task enqueued on a"


def test_a_result_read_on_one_server_wakes_when_another_stores_it(servers: StartServer) -> None:
    a, b = servers(), servers()
    with a.client("producer") as producer, b.client("w1") as worker:
        created = producer.create("answer", {})
        [task] = worker.claim(["answer"], wait=5.0)
        answers: list[Result | None] = []
        reader = threading.Thread(target=lambda: answers.append(producer.result(created.task_id, wait=15.0)))
        reader.start()
        time.sleep(1.0)
        worker.submit(task.task_id, True, {"v": 42})
        stored = time.monotonic()
        reader.join(20)
        assert time.monotonic() - stored < 2.0
        result = answers[0]
        assert result is not None and result.data == {"v": 42}


def test_an_idempotency_key_makes_one_task_across_servers(servers: StartServer) -> None:
    a, b = servers(), servers()
    with a.client("p1") as one, b.client("p2") as two, ThreadPoolExecutor(8) as pool:
        clients = [one, two] * 10
        made = list(
            pool.map(lambda c: c.create("once", {"x": 1}, idempotency_key="order-17").task_id, clients)
        )
    assert len(set(made)) == 1
    with a.client() as check:
        assert len(check.tasks(status="pending", types=["once"])) == 1


def test_every_server_lists_the_workers_of_every_host(servers: StartServer) -> None:
    a, b = servers(), servers()
    with a.client("host1-w") as one, b.client("host2-w") as two:
        one.heartbeat(WorkerInfo(name="host1-w", types=["ping"], host="host1"))
        two.heartbeat(WorkerInfo(name="host2-w", types=["ping"], host="host2"))
        for client in (one, two):
            listed = {w["name"]: w for w in client.workers()}
            assert {"host1-w", "host2-w"} <= set(listed)


def test_a_lease_granted_by_a_killed_server_is_reclaimed_by_the_other(servers: StartServer) -> None:
    a, b = servers(), servers()
    with a.client("w1") as on_a:
        created = on_a.create("orphan", {})
        assert [t.task_id for t in on_a.claim(["orphan"], lease=1.0)] == [created.task_id]
    a.kill()
    with b.client("w2") as on_b:
        # b was idle: only the notice of a's lease tells its timer when to look
        again = on_b.claim(["orphan"], wait=15.0)
        assert [t.task_id for t in again] == [created.task_id] and again[0].attempts == 2


def test_servers_starting_together_migrate_once(pg_url: str) -> None:
    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: PostgresStore(pg_url, clock=FakeClock()), range(4)))
    try:
        assert sorted(s.migrated for s in stores) == [0, 0, 0, 1]
        stores[0].create([NewTask("job", {})])
        assert stores[3].counts().of(TaskStatus.PENDING) == 1
    finally:
        for store in stores:
            store.close()


def test_the_password_is_never_shown(pg_cluster: Cluster) -> None:
    url = pg_cluster.url("postgres")
    assert PASSWORD in url and PASSWORD not in redact(url) and "***" in redact(url)
    assert PASSWORD not in redact(url + "?password=" + PASSWORD)
    wrong = url.replace(PASSWORD, PASSWORD + "x")
    with pytest.raises(StoreError) as refused:
        PostgresStore(wrong)
    assert PASSWORD not in str(refused.value) and "password authentication failed" in str(refused.value)
    store = PostgresStore(url + "?schema=shown")
    try:
        assert PASSWORD not in repr(store)
    finally:
        store.close()
        pg_cluster.execute("postgres", "DROP SCHEMA shown CASCADE")


def test_the_password_can_come_from_dotenv(pg_cluster: Cluster, tmp_path: Path) -> None:
    root = tmp_path
    (root / ".env").write_text(f"QUEUE_DB_PASSWORD={PASSWORD}\n")
    url = pg_cluster.url("postgres", password=False).replace("autonomic@", "autonomic:${QUEUE_DB_PASSWORD}@")
    store = open_store(url + "?schema=fromenv", root / "unused.db", root=root)
    try:
        assert store.counts().of(TaskStatus.PENDING) == 0
    finally:
        store.close()
        pg_cluster.execute("postgres", "DROP SCHEMA fromenv CASCADE")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://h/db?schema=Bad-Name", "schema 'Bad-Name'"),
        ("postgresql://h/db?pool_max=0", "pool_max"),
        ("postgresql://h", "names no database"),
        ("postgresql://u:secret@h/db?x=${NOPE_NOT_SET}", "${NOPE_NOT_SET} is set neither"),
    ],
)
def test_bad_urls_are_one_clear_line(url: str, says: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse(url, env={})
    message = str(refused.value)
    assert says in message and "secret" not in message and "\n" not in message


def test_overlapping_keyed_batches_in_opposite_orders_never_deadlock(pg_url: str) -> None:
    one, two = PostgresStore(pg_url), PostgresStore(pg_url)
    try:
        for round_ in range(15):
            keys = [f"r{round_}-k{i}" for i in range(20)]
            batches = [
                (one, [NewTask("job", {}, idempotency_key=k) for k in keys]),
                (two, [NewTask("job", {}, idempotency_key=k) for k in reversed(keys)]),
            ]
            with ThreadPoolExecutor(2) as pool:
                made = list(
                    pool.map(
                        lambda b: {c.task.idempotency_key: c.task.id for c in b[0].create(b[1])}, batches
                    )
                )
            assert made[0] == made[1] and len(made[0]) == 20
        assert one.counts().of(TaskStatus.PENDING) == 15 * 20
    finally:
        one.close()
        two.close()


def test_dropped_connections_are_replaced_and_the_listener_comes_back(
    pg_cluster: Cluster, pg_url: str
) -> None:
    store, other = PostgresStore(pg_url), PostgresStore(pg_url)
    woken = threading.Event()
    try:
        store.listen(woken.set, lambda _: None, lambda _: None)
        for _ in range(4):
            store.create([NewTask("job", {})])
        assert not woken.is_set()  # its own notices are not news to it
        database = pg_url.rsplit("/", 1)[1].split("?", maxsplit=1)[0]
        pg_cluster.execute(
            database,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        # every call succeeds: a dropped connection is noticed at its first round trip and replaced
        for _ in range(10):
            assert store.counts().of(TaskStatus.PENDING) == 4
            store.claim("w1", [], 0)
        assert woken.wait(15)  # the listener is back, and woke everything (notices may have been missed)
        woken.clear()
        other.create([NewTask("job", {})])  # and hears the other store again
        assert woken.wait(10)
    finally:
        store.close()
        other.close()


def test_claims_and_reclaims_by_many_servers_never_overlap(pg_url: str) -> None:
    clock = FakeClock()
    stores = [PostgresStore(pg_url, clock=clock) for _ in range(3)]
    try:
        stores[0].create([NewTask("job", {"n": n}) for n in range(300)])
        with ThreadPoolExecutor(6) as pool:
            claimed = list(
                pool.map(lambda i: [t.id for t in stores[i % 3].claim(f"w{i}", [], 70, lease=10.0)], range(6))
            )
        handed = [task_id for batch in claimed for task_id in batch]
        assert (
            len(handed) == len(set(handed)) == 300
        )  # every task once, whoever asked through whichever server
        clock.advance(11)
        with ThreadPoolExecutor(3) as pool:
            reclaimed = list(pool.map(lambda s: [t.id for t in s.reclaim_expired()], stores))
        back = [task_id for batch in reclaimed for task_id in batch]
        assert sorted(back) == sorted(handed)  # each expired lease handled by exactly one server
        assert stores[1].counts().of(TaskStatus.PENDING) == 300
        assert {t.attempts for t in stores[2].tasks(TaskStatus.PENDING, limit=1000).items} == {1}
    finally:
        for store in stores:
            store.close()
