"""The peers `benchmarks/queue.py` measures autonomic against: huey (SqliteHuey) and Celery on Redis.

Imported by their own consumers (`huey_consumer peers.huey`, `celery -A peers.celery worker`),
so it is configured through environment variables set by the benchmark. Each no-op task returns the
time it ran, which is how the benchmark times a drain from the first task to the last.
"""

from __future__ import annotations

import os
import time

from celery import Celery
from huey import SqliteHuey

huey = SqliteHuey("bench", filename=os.environ.get("BENCH_HUEY_DB", "/tmp/bench-huey.db"))


@huey.task()  # type: ignore[untyped-decorator, unused-ignore]
def huey_noop() -> float:
    return time.time()


_redis = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
celery = Celery("peers", broker=_redis, backend=_redis)
celery.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)


@celery.task(name="noop")  # type: ignore[untyped-decorator, unused-ignore]
def celery_noop() -> float:
    return time.time()
