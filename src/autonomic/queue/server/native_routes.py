"""autonomic's own endpoints: batches, leases, cancellation, the dead-letter queue, the worker registry."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response

from autonomic.queue.schemas import (
    BatchAccepted,
    ClaimRequest,
    Extend,
    Extended,
    Message,
    Rejected,
    Release,
    ResultBatch,
    Task,
    TaskBatch,
    Tasks,
    WorkerInfo,
    WorkerList,
)
from autonomic.queue.server import views
from autonomic.queue.server.origin_routes import Cursor, PageSize
from autonomic.queue.server.respond import (
    Service,
    WorkerName,
    hanging_up,
    respond,
    submitter,
    worker_name,
)
from autonomic.queue.server.service import QueueService
from autonomic.queue.server.waiters import Receive
from autonomic.queue.store.base import PAGE_MAX
from autonomic.queue.store.records import Submission
from autonomic.queue.task import TaskStatus

router = APIRouter(tags=["native"])
CONFLICTS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such task"},
    409: {"description": "not in a state that allows it"},
}


@router.post("/api/tasks/batch", response_model=Tasks)
async def create_batch(body: TaskBatch, service: Service) -> Response:
    """Enqueue many tasks in one transaction (idempotency keys honoured per task)."""
    if len(body.tasks) > service.settings.max_batch:
        raise _too_many(len(body.tasks), service.settings.max_batch)
    created = await service.create([service.new_task(task) for task in body.tasks])
    return respond(Tasks(tasks=[views.task(c.task) for c in created], count=len(created)))


@router.post("/api/tasks/claim", response_model=Tasks)
async def claim(
    body: ClaimRequest, service: Service, request: Request, worker: WorkerName = None
) -> Response:
    """Lease up to `max_tasks` tasks of `types`, long-polling up to `wait` seconds for the first."""
    return respond(await claim_many(service, body, worker, request.receive))


async def claim_many(
    service: QueueService, body: ClaimRequest, worker: str | None, receive: Receive
) -> Tasks:
    """What `POST /api/tasks/claim` does (the route and the fast lane both call this)."""
    with hanging_up(receive) as hangup:
        tasks = await service.claim(
            worker_name(worker), body.types, body.max_tasks, body.wait, body.lease, hangup
        )
    return Tasks(tasks=tasks, count=len(tasks))


@router.post("/api/results/batch", response_model=BatchAccepted)
async def submit_batch(body: ResultBatch, service: Service, worker: WorkerName = None) -> Response:
    """Store many results at once; each is accepted or rejected on its own (404 / 409 per task)."""
    return respond(await submit_many(service, body, worker))


async def submit_many(service: QueueService, body: ResultBatch, worker: str | None) -> BatchAccepted:
    """What `POST /api/results/batch` does (the route and the fast lane both call this)."""
    if len(body.results) > service.settings.max_batch:
        raise _too_many(len(body.results), service.settings.max_batch)
    name = submitter(worker)
    outcomes = await service.submit(
        [Submission(item.task_id, item.success, item.data, item.error, name) for item in body.results]
    )
    return BatchAccepted(
        accepted=[o.task_id for o in outcomes if o.accepted],
        rejected=[
            Rejected(task_id=o.task_id, status_code=views.VERDICT_STATUS[o.verdict], detail=o.detail)
            for o in outcomes
            if not o.accepted
        ],
    )


@router.post("/api/tasks/{task_id}/extend", response_model=Extended)
async def extend(task_id: str, body: Extend, service: Service, worker: WorkerName = None) -> Response:
    """Keep holding a task: `extended` is false when the caller no longer holds its lease."""
    task = await service.extend(task_id, worker_name(worker), body.lease, body.attempt)
    return respond(
        Extended(extended=task is not None, lease_expires_at=task.lease_expires_at if task else None)
    )


@router.post("/api/tasks/{task_id}/release", response_model=Task, responses=CONFLICTS)
async def release(task_id: str, body: Release, service: Service, worker: WorkerName = None) -> Response:
    """Give a held task back (nack): to the back of the queue after `delay`, or dead if out of attempts."""
    return respond(await service.release(task_id, worker_name(worker), body.delay, body.error))


@router.post("/api/tasks/{task_id}/cancel", response_model=Task, responses=CONFLICTS)
async def cancel(task_id: str, service: Service) -> Response:
    """Cancel a pending, leased or dead task. A worker holding it learns so when it extends or answers."""
    return respond(await service.cancel(task_id))


@router.get("/api/dlq", response_model=Tasks)
async def dead_letters(service: Service, limit: PageSize = PAGE_MAX, cursor: Cursor = None) -> Response:
    """Tasks that ran out of attempts, oldest first (paged like /api/tasks)."""
    tasks, following = await service.tasks(TaskStatus.DEAD, [], limit, cursor)
    return respond(Tasks(tasks=tasks, count=len(tasks), next_cursor=following))


@router.post("/api/dlq/{task_id}/requeue", response_model=Task, responses=CONFLICTS)
async def requeue(task_id: str, service: Service) -> Response:
    """Give a dead-lettered task a fresh set of attempts, at the back of the queue."""
    return respond(await service.requeue(task_id))


@router.post("/api/workers/heartbeat", response_model=Message)
async def heartbeat(body: WorkerInfo, service: Service) -> Response:
    """A worker says it is alive, what it handles and how busy it is."""
    await service.call(service.store.heartbeat, body.name, body.model_dump(mode="json"))
    return respond(Message(message="ok"))


@router.get("/api/workers", response_model=WorkerList)
async def workers(service: Service, limit: PageSize = PAGE_MAX, cursor: Cursor = None) -> Response:
    """Workers heard from recently, by name, and whether each still counts as live (paged)."""
    found, following = await service.workers(limit, cursor)
    live = sum(1 for w in found if w.live)
    return respond(WorkerList(workers=found, count=len(found), live=live, next_cursor=following))


def _too_many(given: int, limit: int) -> HTTPException:
    return HTTPException(413, f"{given} items is over the batch limit of {limit} ([queue].max_batch)")
