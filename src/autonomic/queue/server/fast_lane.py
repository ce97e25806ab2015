"""`FastLane`: the hot endpoints answered straight from ASGI, without FastAPI's per-request machinery.

Enqueueing, claiming, answering and reading results are nearly all of a queue's traffic, and FastAPI's
routing, dependency resolution and validation layers cost more per request than the work itself. The
fast lane serves exactly those endpoints with the same schemas, calling the very functions the FastAPI
routes call (`create_one`, `claim_many`, ...), and answering errors from the same table. It runs behind
the `Guard`, so every security check has passed before it sees a request. Anything it does not
recognise or cannot validate goes on to the FastAPI routes, body replayed, which stay declared for
OpenAPI and give the canonical answers (a 405, a 422 with its message).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import HTTPException
from pydantic import BaseModel, TypeAdapter, ValidationError

from autonomic.queue.schemas import ClaimRequest, ResultBatch, ResultBody, TaskCreate
from autonomic.queue.server import native_routes, origin_routes
from autonomic.queue.server.problems import error_status
from autonomic.queue.server.security import ASGIApp, Receive, Scope, Send, replay_body
from autonomic.queue.server.service import QueueService
from autonomic.queue.server.spin import Spinner

# The routes' own query declarations, so a value valid here is exactly one valid there.
_WAIT: TypeAdapter[float] = TypeAdapter(origin_routes.Wait)
_LEASE: TypeAdapter[float | None] = TypeAdapter(origin_routes.Lease)
_JSON = [(b"content-type", b"application/json")]


class _Decline(Exception):
    """Not for the fast lane after all: let the FastAPI routes answer."""


class _Call:
    """One request as the fast lane sees it: path id, query, body, worker name, receive channel."""

    def __init__(self, scope: Scope, receive: Receive, body: bytes, task_id: str) -> None:
        self.receive = receive
        self.body = body
        self.task_id = task_id
        raw = scope["query_string"]
        self.query = dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True)) if raw else {}
        self.worker: str | None = None
        for name, value in scope["headers"]:
            if name == b"x-worker-name":
                self.worker = value.decode("latin-1")

    def parse(self, model: type[Any]) -> Any:
        try:
            return model.model_validate_json(self.body)
        except ValidationError:
            raise _Decline from None

    def number(self, adapter: TypeAdapter[Any], name: str, default: Any) -> Any:
        if name not in self.query:
            return default
        try:
            return adapter.validate_python(self.query[name])
        except ValidationError:
            raise _Decline from None


Handler = Callable[[QueueService, _Call], Awaitable[BaseModel]]


async def _create(service: QueueService, call: _Call) -> BaseModel:
    body = call.parse(TaskCreate)
    wait = call.number(_WAIT, "wait", 0.0)
    return await origin_routes.create_one(service, body, call.query.get("priority"), wait, call.receive)


async def _claim(service: QueueService, call: _Call) -> BaseModel:
    return await native_routes.claim_many(service, call.parse(ClaimRequest), call.worker, call.receive)


async def _next(service: QueueService, call: _Call) -> BaseModel:
    wait = call.number(_WAIT, "wait", 0.0)
    lease = call.number(_LEASE, "lease", None)
    return await origin_routes.next_one(
        service, call.worker, wait, call.query.get("types"), lease, call.receive
    )


async def _submit(service: QueueService, call: _Call) -> BaseModel:
    return await origin_routes.submit_one(service, call.task_id, call.parse(ResultBody), call.worker)


async def _submit_batch(service: QueueService, call: _Call) -> BaseModel:
    return await native_routes.submit_many(service, call.parse(ResultBatch), call.worker)


async def _result(service: QueueService, call: _Call) -> BaseModel:
    wait = call.number(_WAIT, "wait", 0.0)
    return await origin_routes.result_of(service, call.task_id, wait, call.receive)


EXACT: dict[tuple[str, str], Handler] = {
    ("POST", "/api/tasks/create"): _create,
    ("POST", "/api/tasks/claim"): _claim,
    ("GET", "/api/tasks/next"): _next,
    ("POST", "/api/tasks/next"): _next,
    ("POST", "/api/results/batch"): _submit_batch,
}


LATER = frozenset({_claim, _next})  # served one turn of the loop later than they arrive


def route(method: str, path: str) -> tuple[Handler, str] | None:
    """The fast handler of a request and its path's task id, or None for the FastAPI routes."""
    if (handler := EXACT.get((method, path))) is not None:
        return handler, ""
    parts = path.split("/")  # "", "api", ... : a path id is one non-empty segment, as in the routes
    if len(parts) < 4 or parts[1] != "api" or not parts[3]:
        return None
    if method == "POST" and len(parts) == 5 and parts[2] == "tasks" and parts[4] == "result":
        return _submit, parts[3]
    if method == "GET" and len(parts) == 4 and parts[2] == "results":
        return _result, parts[3]
    return None


class FastLane:
    """ASGI middleware: the hot endpoints here, everything else to `app` (the FastAPI routes)."""

    def __init__(self, app: ASGIApp, service: QueueService) -> None:
        self.app = app
        self.service = service
        self.spinner = Spinner(service.settings.busy_poll)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = route(scope["method"], scope["path"]) if scope["type"] == "http" else None
        if found is None or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        handler, task_id = found
        if handler in LATER:
            # A claim asks for the next task: what is already in hand goes first. A worker sends its
            # result and its next claim back to back; the reader waiting for that result is answered
            # before this claim is even read, not after it (one turn of the loop).
            await asyncio.sleep(0)
        body = await _read(receive)
        if body is None:  # the client left while sending: nobody to answer
            return
        try:
            answer = await handler(self.service, _Call(scope, receive, body, task_id))
        except _Decline:
            await self.app(scope, replay_body(body, receive), send)
            return
        except HTTPException as exc:
            await _send(send, exc.status_code, _detail(exc.detail))
            return
        except Exception as exc:
            problem = error_status(exc)
            if problem is None:
                raise
            await _send(send, problem[0], _detail(problem[1]))
            return
        await _send(send, 200, answer.model_dump_json().encode())
        self.spinner.kick()  # its caller's next request is likely on its way: be awake for it


async def _read(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _detail(detail: Any) -> bytes:
    """Starlette's JSONResponse rendering, so an error reads the same from either lane."""
    return json.dumps({"detail": detail}, ensure_ascii=False, separators=(",", ":")).encode()


async def _send(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-length", str(len(body)).encode()), *_JSON]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
