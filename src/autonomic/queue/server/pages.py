"""The answer of `GET /api/tasks`, assembled slice by slice.

A page holds up to 1,000 tasks, and the original shape lists each of them twice (in `queue` and in
its priority's list). Each task is serialised once, straight from its record, and the bytes are
reused for both places; the loop is yielded between slices, so eight clients reading full pages at
once cannot hold up `/api/health` or a claim for the length of their answers. The bytes are exactly
what `TaskList.model_dump_json()` would produce (a test holds this).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from pydantic_core import to_json

from autonomic.queue.server import views
from autonomic.queue.server.service import SLICE, QueueService
from autonomic.queue.store.base import PAGE_MAX
from autonomic.queue.task import Priority, TaskStatus


async def task_list(
    service: QueueService, status: TaskStatus, types: Sequence[str], limit: int, after: str | None
) -> bytes:
    """The JSON of a `TaskList` page: tasks in `status` (claim order for pending), from cursor `after`."""
    limit = min(max(limit, 0), PAGE_MAX)
    every: list[bytes] = []
    by: dict[Priority, list[bytes]] = {p: [] for p in Priority}
    if limit == 0:
        after = None
    while len(every) < limit:
        page = await service.call(
            service.store.tasks, status, list(types), min(SLICE, limit - len(every)), after
        )
        for record in page.items:
            encoded = to_json(views.task_fields(record))
            every.append(encoded)
            by[record.priority].append(encoded)
        after = page.next
        if after is None:
            break
        await asyncio.sleep(0)
    size = (await service.call(service.store.counts)).of(status)
    return b"".join(
        [
            b'{"queue":[',
            b",".join(every),
            b'],"queue_size":%d,"queue_urgent":[' % size,
            b",".join(by[Priority.URGENT]),
            b'],"queue_normal":[',
            b",".join(by[Priority.NORMAL]),
            b'],"queue_low":[',
            b",".join(by[Priority.LOW]),
            b'],"total_queue_size":%d,"count":%d,"next_cursor":%s}'
            % (size, len(every), json.dumps(after).encode()),
        ]
    )
