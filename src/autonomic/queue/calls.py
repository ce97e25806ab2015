"""Every request the Python clients make, built once: method, path, body, and how to read the answer.

`QueueClient` and `AsyncQueueClient` only differ in how they send a `Call`; what is sent and how the
answer is parsed lives here, so the two cannot drift apart. This is the client's error boundary: a
request body is validated by the same models the server uses before anything is sent (a value the
server would refuse raises `InvalidRequest`, one line naming the field), an answer that does not fit
the API raises `BadAnswer`, and an error status raises the matching `QueueError`; no pydantic
exception leaves this module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from autonomic.errors import BadAnswer, InvalidRequest, ResultTimeout
from autonomic.queue.answers import Answer, all_accepted, check, reason
from autonomic.queue.schemas import (
    ClaimRequest,
    Extend,
    Extended,
    Release,
    Result,
    ResultBody,
    ResultIn,
    Task,
    TaskCreate,
    TaskCreated,
    TaskList,
    Tasks,
    WorkerInfo,
)
from autonomic.queue.task import Priority, TaskStatus

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
CLAIMS_KEPT = 256


@dataclass(frozen=True)
class Call(Generic[T]):
    """One HTTP request and the parser of its successful answer."""

    method: str
    path: str
    parse: Callable[[Answer], T]
    body: Any = None
    params: dict[str, Any] | None = None
    wait: float = 0.0  # a long poll: the request may legitimately take this much longer
    none_if_missing: bool = False  # a 404 means "nothing (yet)", not an error

    def finish(self, response: Answer) -> T:
        """The parsed answer, or the `QueueError` subclass that says what went wrong."""
        if self.none_if_missing and response.status_code == 404:
            return None  # type: ignore[return-value]  # only used where T includes None
        check(response)
        try:
            return self.parse(response)
        except (ValidationError, ValueError, KeyError, TypeError) as exc:
            raise BadAnswer(
                f"the queue server's answer to {self.method} {self.path} does not fit the API: {reason(exc)}"
            ) from None


def headers(token: str | None, worker_name: str | None) -> dict[str, str]:
    found = {"Accept": "application/json"}
    if token:
        found["Authorization"] = f"Bearer {token}"
    if worker_name:
        found["X-Worker-Name"] = worker_name
    return found


class Calls:
    """Builds the calls of one client. Remembers which delivery of each held task it claimed, so an
    `extend` after the task was lost and handed out again (even to this same worker) is refused."""

    def __init__(self) -> None:
        self._held: dict[str, int] = {}
        self._claims: dict[tuple[Any, ...], tuple[dict[str, Any], float]] = {}

    def health(self) -> Call[dict[str, Any]]:
        return Call("GET", "/api/health", _json)

    def create(
        self,
        type: str,
        data: dict[str, Any] | None = None,
        priority: str = "normal",
        *,
        idempotency_key: str | None = None,
        delay: float | None = None,
        run_at: datetime | None = None,
        max_attempts: int | None = None,
    ) -> Call[Task]:
        body = _new_task(
            type,
            data,
            priority,
            idempotency_key=idempotency_key,
            delay=delay,
            run_at=run_at,
            max_attempts=max_attempts,
        )
        return Call("POST", "/api/tasks/create", _created, body=body)

    def enqueue(
        self,
        type: str,
        data: dict[str, Any] | None = None,
        priority: str = "normal",
        *,
        idempotency_key: str | None = None,
        delay: float | None = None,
        run_at: datetime | None = None,
        max_attempts: int | None = None,
    ) -> Call[TaskCreated]:
        """`create`, answered in full: `created` is False when the idempotency key was used before."""
        body = _new_task(
            type,
            data,
            priority,
            idempotency_key=idempotency_key,
            delay=delay,
            run_at=run_at,
            max_attempts=max_attempts,
        )
        return Call("POST", "/api/tasks/create", _created_answer, body=body)

    def run(
        self,
        type: str,
        data: dict[str, Any] | None = None,
        priority: str = "normal",
        *,
        timeout: float = 30.0,
        idempotency_key: str | None = None,
        max_attempts: int | None = None,
    ) -> Call[Result]:
        body = _new_task(type, data, priority, idempotency_key=idempotency_key, max_attempts=max_attempts)
        return Call("POST", "/api/tasks/create", _ran, body=body, params={"wait": timeout}, wait=timeout)

    def create_many(self, tasks: list[TaskCreate]) -> Call[list[Task]]:
        body = {"tasks": [_dump(task) for task in tasks]}
        return Call(
            "POST", "/api/tasks/batch", lambda r: Tasks.model_validate_json(r.content).tasks, body=body
        )

    def claim(
        self,
        types: list[str] | None = None,
        max_tasks: int = 1,
        wait: float = 0.0,
        lease: float | None = None,
    ) -> Call[list[Task]]:
        key = (tuple(types or ()), max_tasks, wait, lease)
        if (known := self._claims.get(key)) is None:  # a worker asks the same few claims again and again
            body = valid(ClaimRequest, types=list(key[0]), max_tasks=max_tasks, wait=wait, lease=lease)
            if len(self._claims) >= CLAIMS_KEPT:
                self._claims.clear()
            known = self._claims[key] = (_dump(body), body.wait)
        return Call("POST", "/api/tasks/claim", self._claimed, body=known[0], wait=known[1])

    def submit(
        self, task_id: str, success: bool, data: dict[str, Any] | None = None, error: str | None = None
    ) -> Call[None]:
        body = _dump(valid(ResultBody, success=success, data=data, error=error), exclude_none=False)
        return Call("POST", f"/api/tasks/{_id(task_id)}/result", self._forgetting([task_id]), body=body)

    def submit_many(self, results: list[ResultIn]) -> Call[None]:
        forget = self._forgetting([result.task_id for result in results], all_accepted)
        return Call("POST", "/api/results/batch", forget, body={"results": [_dump(r) for r in results]})

    def extend(self, task_id: str, lease: float) -> Call[bool]:
        body = _dump(valid(Extend, lease=lease, attempt=self._held.get(task_id)))
        return Call(
            "POST",
            f"/api/tasks/{_id(task_id)}/extend",
            lambda r: Extended.model_validate_json(r.content).extended,
            body=body,
        )

    def release(self, task_id: str, delay: float = 0.0, error: str | None = None) -> Call[None]:
        return Call(
            "POST",
            f"/api/tasks/{_id(task_id)}/release",
            self._forgetting([task_id]),
            body=_dump(valid(Release, delay=delay, error=error)),
        )

    def heartbeat(self, info: WorkerInfo) -> Call[None]:
        return Call("POST", "/api/workers/heartbeat", _nothing, body=_dump(info))

    def workers(self) -> Call[list[dict[str, Any]]]:
        return Call("GET", "/api/workers", lambda r: list(r.json()["workers"]))

    def result(self, task_id: str, wait: float = 0.0) -> Call[Result | None]:
        return Call(
            "GET",
            f"/api/results/{_id(task_id)}",
            lambda r: Result.model_validate_json(r.content),
            params={"wait": wait} if wait else None,
            wait=wait,
            none_if_missing=True,
        )

    def get(self, task_id: str) -> Call[Task]:
        return Call("GET", f"/api/tasks/{_id(task_id)}", _task)

    def cancel(self, task_id: str) -> Call[Task]:
        return Call("POST", f"/api/tasks/{_id(task_id)}/cancel", _task)

    def stats(self) -> Call[dict[str, Any]]:
        return Call("GET", "/api/stats", _json)

    def tasks(
        self, status: TaskStatus | str = TaskStatus.PENDING, limit: int = 1000, types: list[str] | None = None
    ) -> Call[list[Task]]:
        params: dict[str, Any] = {"status": str(status), "limit": limit}
        if types:
            params["types"] = ",".join(types)
        return Call(
            "GET", "/api/tasks", lambda r: TaskList.model_validate_json(r.content).queue, params=params
        )

    def dead_letters(self, limit: int = 1000) -> Call[list[Task]]:
        return Call(
            "GET", "/api/dlq", lambda r: Tasks.model_validate_json(r.content).tasks, params={"limit": limit}
        )

    def requeue(self, task_id: str) -> Call[Task]:
        return Call("POST", f"/api/dlq/{_id(task_id)}/requeue", _task)

    def results(self, limit: int = 100) -> Call[list[Result]]:
        return Call(
            "GET",
            "/api/results",
            lambda r: [Result.model_validate(x) for x in r.json()["results"]],
            params={"limit": limit},
        )

    def _forgetting(
        self, task_ids: list[str], parse: Callable[[Answer], None] | None = None
    ) -> Callable[[Answer], None]:
        """A parser that forgets the held deliveries of `task_ids` once the server took the request.

        Only then: if the request fails (server away, 5xx), the task is still held, and the `extend`
        that keeps it meanwhile must still name its delivery.
        """

        def parsed(response: Answer) -> None:
            for task_id in task_ids:
                self._held.pop(task_id, None)
            if parse is not None:
                parse(response)

        return parsed

    def _claimed(self, response: Answer) -> list[Task]:
        tasks = Tasks.model_validate_json(response.content).tasks
        for task in tasks:
            self._held[task.task_id] = task.attempts
        return tasks


def _id(task_id: str) -> str:
    """A task id as one path segment, whatever characters it holds."""
    return quote(task_id, safe="")


def valid(model: type[M], **fields: Any) -> M:
    """`model(**fields)`, or `InvalidRequest` naming the first field the server would refuse."""
    try:
        return model(**fields)
    except ValidationError as exc:
        raise InvalidRequest(reason(exc)) from None


def _new_task(type: str, data: dict[str, Any] | None, priority: str, **options: Any) -> dict[str, Any]:
    """A create request's body, validated on this side before anything is sent."""
    try:
        level = Priority(priority)
    except ValueError:
        raise InvalidRequest(f"priority must be one of {', '.join(Priority)}, not {priority!r}") from None
    return _dump(valid(TaskCreate, type=type, data={} if data is None else data, priority=level, **options))


def _dump(model: BaseModel, exclude_none: bool = True) -> dict[str, Any]:
    return dict(model.model_dump(mode="json", exclude_none=exclude_none))


def _json(response: Answer) -> dict[str, Any]:
    found: dict[str, Any] = response.json()
    return found


def _task(response: Answer) -> Task:
    return Task.model_validate_json(response.content)


def _created_answer(response: Answer) -> TaskCreated:
    return TaskCreated.model_validate_json(response.content)


def _created(response: Answer) -> Task:
    return TaskCreated.model_validate_json(response.content).task


class _Kind(BaseModel):
    type: str


class _RunAnswer(BaseModel):
    """What `run` needs of a create answer: the result, and the task's type for a timeout's message
    (the rest of the task is not validated again: `run` does not return it)."""

    task_id: str
    task: _Kind
    result: Result | None = None


def _ran(response: Answer) -> Result:
    answer = _RunAnswer.model_validate_json(response.content)
    if answer.result is None:
        raise ResultTimeout(f"task {answer.task_id} ({answer.task.type}) has no result yet; it stays queued")
    return answer.result


def _nothing(_: Answer) -> None:
    return None
