"""What every route needs: its service, the caller's worker name, and a fast JSON response."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, Response
from pydantic import BaseModel

from autonomic.queue.server.service import QueueService
from autonomic.queue.server.views import VERDICT_STATUS
from autonomic.queue.server.waiters import Hangup, Receive
from autonomic.queue.store.records import Outcome


async def _service(request: Request) -> QueueService:
    service: QueueService = request.app.state.service
    return service


Service = Annotated[QueueService, Depends(_service)]
# A plain header parameter, not a dependency: each dependency costs a resolution pass per request.
WorkerName = Annotated[str | None, Header(alias="X-Worker-Name", description="Who is asking.")]


def worker_name(header: str | None) -> str:
    """The caller's worker name (`unknown` when it sends none, as the original defaulted)."""
    return (header or "").strip()[:200] or "unknown"


def submitter(header: str | None) -> str | None:
    """Who sent a result: its worker name, or None when it did not say."""
    return (header or "").strip()[:200] or None


def respond(model: BaseModel, status_code: int = 200) -> Response:
    """Serialise once with pydantic-core; the declared response_model only documents the shape."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")


def raise_for(outcome: Outcome) -> None:
    """Turn a refused result into its HTTP error (404 unknown task, 409 already answered)."""
    if not outcome.accepted:
        raise HTTPException(VERDICT_STATUS[outcome.verdict], outcome.detail)


def split_types(types: str | None) -> list[str]:
    """`?types=a,b` (or repeated) as a list; empty means every type."""
    return [t.strip() for t in (types or "").split(",") if t.strip()]


@contextmanager
def hanging_up(receive: Receive) -> Iterator[Hangup]:
    """A `Hangup` over a request's receive channel (its body already read), stopped when the block ends."""
    hangup = Hangup(receive)
    try:
        yield hangup
    finally:
        hangup.close()
