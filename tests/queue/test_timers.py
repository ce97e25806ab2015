"""Issue 9, item 8: the queue server wakes for what is due (a lease expiry, an eviction), not on a tick.

An idle server sleeps: its process makes (almost) no context switches. A lease is reclaimed when it
runs out, however far away that is, because a claim plans the next wake-up of the timer.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import psutil

from autonomic.clock import FakeClock
from autonomic.queue.schemas import TaskCreate
from autonomic.queue.server.service import QueueService
from autonomic.queue.settings import QueueSettings
from autonomic.queue.store.sqlite import SqliteStore
from tests.helpers import wait_until
from tests.queue.support import make_workspace, start_server


def test_an_idle_server_sleeps_instead_of_ticking(tmp_path: Path, pids: list[int]) -> None:
    server = start_server(make_workspace(tmp_path / "ws"), pids)
    proc = psutil.Process(server.proc.pid)
    time.sleep(1.0)  # let start-up settle
    switches, cpu = proc.num_ctx_switches().voluntary, proc.cpu_times()
    time.sleep(5.0)
    woke = proc.num_ctx_switches().voluntary - switches
    used = (proc.cpu_times().user + proc.cpu_times().system) - (cpu.user + cpu.system)
    # uvicorn's own 10 Hz main loop alone would be 50 wake-ups; a 1 s reaper tick 5 more.
    assert woke <= 4, f"{woke} wake-ups in 5 s of idling"
    assert used < 0.05, f"{used:.3f} s of CPU in 5 s of idling"


def test_a_lease_is_reclaimed_when_it_runs_out(tmp_path: Path, pids: list[int]) -> None:
    server = start_server(make_workspace(tmp_path / "ws", retry_delay="0s", reap_interval="50ms"), pids)
    with server.client("holder") as client:
        time.sleep(0.5)  # the timer is asleep for its longest (nothing is due) when the claim comes
        task = client.create("timed")
        [held] = client.claim(["timed"], lease=1.5)
        started = time.monotonic()
        wait_until(lambda: client.get(task.task_id).status == "pending", timeout=10, interval=0.02)
        elapsed = time.monotonic() - started
    assert held.task_id == task.task_id
    assert 1.3 <= elapsed <= 4.0, elapsed  # due at 1.5 s: not a whole reap tick, not the next minute


def test_run_at_is_set_and_compared_on_the_same_clock(tmp_path: Path) -> None:
    """Issue 7, item 7: the service and the store share one clock (a fake one here: nothing sleeps)."""
    clock = FakeClock()
    store = SqliteStore(tmp_path / "q.db", clock=clock)
    service = QueueService(store, QueueSettings(), clock)

    async def scenario() -> None:
        new = service.new_task(TaskCreate(type="later", data={}, delay=60.0))
        assert new.run_at == clock.time() + 60.0
        await service.create([new])
        assert await service.claim("w", ["later"], 1, 0.0, None) == []
        clock.advance(59.9)
        assert await service.claim("w", ["later"], 1, 0.0, None) == []
        clock.advance(0.1)
        [task] = await service.claim("w", ["later"], 1, 0.0, 30.0)
        assert task.lease_expires_at is not None
        assert task.lease_expires_at.timestamp() == clock.time() + 30.0
        assert service.timers.due <= clock.time() + 30.0  # the claim planned the timer's next wake-up

    try:
        asyncio.run(scenario())
    finally:
        store.close()
