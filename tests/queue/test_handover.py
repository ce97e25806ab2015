"""Issue 9: long polls that wait are served by the create itself (the service's side of the handover)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from autonomic.queue.schemas import TaskCreate
from autonomic.queue.server.service import QueueService
from autonomic.queue.settings import QueueSettings
from autonomic.queue.store.records import TaskRecord
from autonomic.queue.store.sqlite import SqliteStore
from autonomic.queue.task import TaskStatus


class _CountingStore(SqliteStore):
    """Counts the claims the service makes of its own (a handover needs none)."""

    claims_found = 0

    def claim(
        self, worker: str, types: Sequence[str], limit: int, lease: float | None = None
    ) -> list[TaskRecord]:
        found = super().claim(worker, types, limit, lease)
        self.claims_found += bool(found)
        return found


def test_each_waiting_poll_gets_its_own_task_from_the_create(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = _CountingStore(tmp_path / "queue.db")
        service = QueueService(store, QueueSettings())
        try:
            first = asyncio.create_task(service.claim("w1", ["job"], 1, 5.0, None))
            await asyncio.sleep(0.05)
            second = asyncio.create_task(service.claim("w2", ["job"], 1, 5.0, None))
            other = asyncio.create_task(service.claim("w3", ["ocr"], 1, 0.3, None))
            await asyncio.sleep(0.05)  # all three wait

            [made] = await service.create([service.new_task(TaskCreate(type="job", data={}))])
            got = await asyncio.wait_for(first, 2)  # the one waiting longest
            assert [t.task_id for t in got] == [made.task.id] and got[0].worker == "w1"
            assert got[0].status is TaskStatus.LEASED and got[0].attempts == 1
            await asyncio.sleep(0.05)
            assert not second.done()  # nothing left for it: it keeps waiting, not answered empty

            [later] = await service.create([service.new_task(TaskCreate(type="job", data={}))])
            got = await asyncio.wait_for(second, 2)
            assert [t.task_id for t in got] == [later.task.id] and got[0].worker == "w2"
            assert await asyncio.wait_for(other, 2) == []  # another type's poll times out empty
            assert store.claims_found == 0  # both were handed over by their creates
            assert service.timers.due <= store.get(made.task.id).lease_expires_at  # type: ignore[operator]
        finally:
            service.stop()
            store.close()

    asyncio.run(scenario())


def test_a_poll_that_timed_out_meanwhile_leaves_the_task_pending(tmp_path: Path) -> None:
    """A create whose waiting poll is gone by the time the task is stored: the task stays claimable."""

    async def scenario() -> None:
        store = SqliteStore(tmp_path / "queue.db")
        service = QueueService(store, QueueSettings())
        try:
            poll = asyncio.create_task(service.claim("w1", ["job"], 1, 0.05, None))
            await asyncio.sleep(0.01)
            assert len(service.ready.waiting({"job"})) == 1  # registered while it waits
            assert await asyncio.wait_for(poll, 2) == []
            assert service.ready.waiting({"job"}) == []  # and gone once it stopped: nothing is offered it
            [made] = await service.create([service.new_task(TaskCreate(type="job", data={}))])
            assert store.get(made.task.id).status is TaskStatus.PENDING
            again = await service.claim("w1", ["job"], 1, 0.0, None)
            assert [t.task_id for t in again] == [made.task.id]
        finally:
            service.stop()
            store.close()

    asyncio.run(scenario())
