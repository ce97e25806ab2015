"""The endpoints of the original server (ORIGIN_API.md), shape for shape, with optional native extras."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Query, Request, Response

from autonomic import values
from autonomic.queue.schemas import (
    Health,
    Inflight,
    InflightList,
    LegacyEnqueue,
    LegacyTaskCreate,
    NoTask,
    Result,
    ResultAccepted,
    ResultBody,
    ResultList,
    Stats,
    Task,
    TaskCreate,
    TaskCreated,
    TaskList,
)
from autonomic.queue.server import pages, views
from autonomic.queue.server.respond import (
    Service,
    WorkerName,
    hanging_up,
    raise_for,
    respond,
    split_types,
    submitter,
    worker_name,
)
from autonomic.queue.server.service import QueueService
from autonomic.queue.server.waiters import Receive
from autonomic.queue.store.base import PAGE_MAX
from autonomic.queue.store.records import Created, Submission
from autonomic.queue.task import Priority, TaskStatus

router = APIRouter()
Wait = Annotated[values.Wait, Query(description="Long-poll: seconds to wait (native).")]
Lease = Annotated[values.Lease | None, Query(description="Lease seconds for this claim (native).")]
Types = Annotated[str | None, Query(description="Only these task types, comma-separated (native).")]
Limit = Annotated[int | None, Query(ge=0, le=1_000_000_000, description=f"At most {PAGE_MAX} are returned.")]
PageSize = Annotated[int, Query(ge=0, le=1_000_000_000, description=f"At most {PAGE_MAX} are returned.")]
Cursor = Annotated[str | None, Query(max_length=400, description="`next_cursor` of the previous page.")]


def _created(created: Created) -> TaskCreated:
    task = views.task(created.task)
    return TaskCreated(
        task_id=task.task_id,
        id=task.id,
        priority=task.priority,
        queue_position=created.position,
        message="Task created" if created.created else f"already queued as {task.task_id}",
        created=created.created,
        task=task,
    )


@router.get("/api/health", response_model=Health, tags=["origin"])
async def health(service: Service) -> Response:
    """Liveness and queue depth; open without the token (the orchestrator probes it)."""
    return respond(await service.health())


@router.get("/health", response_model=Health, tags=["origin"], include_in_schema=False)
async def health_older(service: Service) -> Response:
    return respond(await service.health())


@router.post("/api/tasks/create", response_model=TaskCreated, tags=["origin"])
async def create(
    body: TaskCreate,
    service: Service,
    request: Request,
    priority: Annotated[str | None, Query(description="urgent|normal|low; else normal")] = None,
    wait: Wait = 0.0,
) -> Response:
    """Enqueue one task. The query `priority` follows the original (unknown means normal).

    With `wait` (native), answer once the task has a result (or `wait` ran out): enqueue-and-run in one
    round trip, for callers that want the answer now.
    """
    return respond(await create_one(service, body, priority, wait, request.receive))


async def create_one(
    service: QueueService, body: TaskCreate, priority: str | None, wait: float, receive: Receive
) -> TaskCreated:
    """What `POST /api/tasks/create` does (the route and the fast lane both call this)."""
    fallback = None if priority is None else Priority.lenient(priority)
    made = (await service.create([service.new_task(body, fallback)]))[0]
    if wait <= 0:
        return _created(made)
    # Register for the result before anything else can run (a task created just now, not found by its
    # idempotency key, has no result yet: the store need not be read). Then let the worker this task
    # woke be served first, and prepare this answer while it runs the task.
    expected = service.results.expect(made.task.id) if made.created else None
    try:
        await asyncio.sleep(0)
        created = _created(made)
        with hanging_up(receive) as hangup:
            created.result = await service.result(created.task_id, wait, hangup, expected=expected)
            expected = None  # handed over: `result` forgets it
    finally:
        if expected is not None:
            service.results.forget(made.task.id, expected)
    return created


@router.post("/api/enqueue", response_model=TaskCreated, tags=["origin"])
async def enqueue(body: LegacyEnqueue, service: Service) -> Response:
    """The original's lenient enqueue: `task_type`/`type`/"generic", `params`/`data`/{}."""
    created = await service.create([service.new_task(body.to_create())])
    return respond(_created(created[0]))


@router.api_route("/api/tasks/next", methods=["GET", "POST"], response_model=Task | NoTask, tags=["origin"])
async def next_task(
    service: Service,
    request: Request,
    worker: WorkerName = None,
    wait: Wait = 0.0,
    types: Types = None,
    lease: Lease = None,
) -> Response:
    """Lease the next task to the caller: the bare task, or `{"task": null}` when none is ready."""
    return respond(await next_one(service, worker, wait, types, lease, request.receive))


async def next_one(
    service: QueueService,
    worker: str | None,
    wait: float,
    types: str | None,
    lease: float | None,
    receive: Receive,
) -> Task | NoTask:
    """What `GET|POST /api/tasks/next` does (the route and the fast lane both call this)."""
    with hanging_up(receive) as hangup:
        tasks = await service.claim(worker_name(worker), split_types(types), 1, wait, lease, hangup)
    return tasks[0] if tasks else NoTask()


@router.post(
    "/api/tasks/{task_id}/result",
    response_model=ResultAccepted,
    tags=["origin"],
    responses={404: {"description": "no such task"}, 409: {"description": "already answered"}},
)
async def submit_result(
    task_id: str, body: ResultBody, service: Service, worker: WorkerName = None
) -> Response:
    """Store a task's result. Unknown task: 404. A second result: 409 (the first one stands)."""
    return respond(await submit_one(service, task_id, body, worker))


async def submit_one(
    service: QueueService, task_id: str, body: ResultBody, worker: str | None
) -> ResultAccepted:
    """What `POST /api/tasks/{task_id}/result` does (the route and the fast lane both call this)."""
    found = Submission(task_id, body.success, body.data, body.error, submitter(worker))
    outcome = (await service.submit([found]))[0]
    raise_for(outcome)
    return ResultAccepted(message="Result submitted", success=body.success)


@router.get("/api/tasks", response_model=TaskList, tags=["origin"])
async def list_tasks(
    service: Service,
    status: TaskStatus = TaskStatus.PENDING,
    types: Types = None,
    limit: PageSize = PAGE_MAX,
    cursor: Cursor = None,
) -> Response:
    """Pending tasks in claim order (or another `status`), in both shapes the original clients read.

    One page of at most 1,000 tasks (`limit` above that is served as 1,000); `next_cursor` fetches the
    next page, and is null on the last one."""
    body = await pages.task_list(service, status, split_types(types), limit, cursor)
    return Response(body, media_type="application/json")


@router.get("/api/inflight", response_model=InflightList, tags=["origin"])
async def inflight(service: Service, limit: PageSize = PAGE_MAX, cursor: Cursor = None) -> Response:
    """Tasks currently leased, with who holds them and for how long (paged like /api/tasks)."""
    tasks, following = await service.tasks(TaskStatus.LEASED, [], limit, cursor)
    now = service.clock.time()
    items = [_inflight(task, now) for task in tasks]
    return respond(InflightList(inflight=items, count=len(items), next_cursor=following))


def _inflight(task: Task, now: float) -> Inflight:
    leased = task.leased_at.timestamp() if task.leased_at else now
    return Inflight(
        task_id=task.task_id,
        type=task.type,
        leased_at=task.leased_at,
        worker=task.worker,
        age_sec=round(max(now - leased, 0.0), 3),
        lease_expires_at=task.lease_expires_at,
        attempts=task.attempts,
    )


@router.get("/api/results", response_model=ResultList, tags=["origin"])
async def list_results(
    service: Service, count: Limit = None, limit: Limit = None, cursor: Cursor = None
) -> Response:
    """The newest results first; clients send `count=` or `limit=` (default 100, at most 1,000 a page)."""
    wanted = limit if limit is not None else count if count is not None else 100
    results, following = await service.results_page(wanted, cursor)
    return respond(ResultList(results=results, count=len(results), next_cursor=following))


@router.get(
    "/api/results/{task_id}",
    response_model=Result,
    tags=["origin"],
    responses={404: {"description": "no result (yet)"}},
)
async def get_result(task_id: str, service: Service, request: Request, wait: Wait = 0.0) -> Response:
    """A task's stored result, or 404. With `wait`, long-poll for it (native)."""
    return respond(await result_of(service, task_id, wait, request.receive))


async def result_of(service: QueueService, task_id: str, wait: float, receive: Receive) -> Result:
    """What `GET /api/results/{task_id}` does (the route and the fast lane both call this)."""
    with hanging_up(receive) as hangup:
        found = await service.result(task_id, wait, hangup)
    if found is None:
        raise HTTPException(404, f"no result for task {task_id}")
    return found


@router.get("/api/stats", response_model=Stats, tags=["origin"])
async def stats(service: Service) -> Response:
    """Counters for monitoring; `workers` counts live workers (heartbeat or claim within worker_ttl)."""
    return respond(await service.stats())


# --- the older dialect ------------------------------------------------------------------------------


@router.post("/api/tasks", response_model=Task, tags=["origin"])
async def create_older(body: Annotated[LegacyTaskCreate, Body()], service: Service) -> Response:
    """Older clients: `{task_type, data, requester}` answered with the created task."""
    fallback = None if body.priority is None else Priority.lenient(body.priority)
    new = service.new_task(TaskCreate(type=body.task_type, data=body.data), fallback)
    return respond(views.task((await service.create([new]))[0].task))


@router.get(
    "/api/tasks/{task_id}",
    response_model=Task,
    tags=["origin"],
    responses={404: {"description": "no such task"}},
)
async def get_task(task_id: str, service: Service) -> Response:
    """One task in any status."""
    return respond(await service.get(task_id))
