"""Reading the queue server's answers: an error status becomes the matching `QueueError`, once.

The server's own `detail` is the message. A 4xx raises a `QueueRefused` (sending it again as is will
not help), a 5xx a `QueueServerError` (it may work later), a 503 `QueueUnavailable`.
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import ValidationError

from autonomic.errors import (
    QueueAuthError,
    QueueRefused,
    QueueServerError,
    QueueUnavailable,
    TaskConflict,
    TaskNotFound,
)
from autonomic.queue.schemas import BatchAccepted


class Answer(Protocol):
    """What a `Call` reads of the server's answer (`transport.Reply`; an `Answer` fits too)."""

    @property
    def status_code(self) -> int: ...

    @property
    def content(self) -> bytes: ...

    @property
    def text(self) -> str: ...

    @property
    def reason_phrase(self) -> str: ...

    @property
    def is_success(self) -> bool: ...

    def json(self) -> Any: ...


def check(response: Answer) -> None:
    """Raise the error matching a non-2xx answer, with the server's own `detail` as the message."""
    if response.is_success:
        return
    detail = _detail(response)
    code = response.status_code
    if code == 404:
        raise TaskNotFound(detail)
    if code == 409:
        raise TaskConflict(detail)
    if code in (401, 403):
        raise QueueAuthError(f"the queue server refused the request: {detail}")
    if code == 503:
        raise QueueUnavailable(detail)
    if code >= 500:
        raise QueueServerError(f"the queue server failed ({code}): {detail}")
    raise QueueRefused(f"the queue server answered {code}: {detail}")


def all_accepted(response: Answer) -> None:
    """A batch is stored item by item; raise for the refused ones, naming them."""
    answer = BatchAccepted.model_validate_json(response.content)
    if not answer.rejected:
        return
    codes = {r.status_code for r in answer.rejected}
    summary = "; ".join(f"{r.task_id}: {r.detail}" for r in answer.rejected[:5])
    message = (
        f"{len(answer.rejected)} of {len(answer.rejected) + len(answer.accepted)} results refused: {summary}"
    )
    if codes == {404}:
        raise TaskNotFound(message)
    if codes <= {404, 409}:
        raise TaskConflict(message)
    if any(code >= 500 for code in codes):
        raise QueueServerError(message)
    raise QueueRefused(message)


def reason(exc: Exception) -> str:
    """One line for a validation failure: `field: what is wrong`."""
    if not isinstance(exc, ValidationError):
        return f"{type(exc).__name__}: {exc}"
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"] if not str(part).startswith("function-"))
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def _detail(response: Answer) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return str(detail) if detail else (response.text.strip()[:300] or response.reason_phrase)
