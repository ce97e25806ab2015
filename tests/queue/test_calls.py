"""The requests the clients build: errors by status class, and the delivery each held task is under."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from autonomic.errors import QueueError, TaskNotFound
from autonomic.queue.calls import Calls, check
from autonomic.queue.errors import (
    QueueAuthError,
    QueueRefused,
    QueueServerError,
    QueueUnavailable,
    TaskConflict,
)
from autonomic.queue.schemas import ResultIn, Task, Tasks
from autonomic.queue.task import Priority, TaskStatus


def answer(code: int, body: Any = None) -> httpx.Response:
    return httpx.Response(code, json=body if body is not None else {"detail": "why"})


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (400, QueueRefused),
        (413, QueueRefused),
        (422, QueueRefused),
        (401, QueueAuthError),
        (404, TaskNotFound),
        (409, TaskConflict),
        (500, QueueServerError),
        (502, QueueServerError),
        (503, QueueUnavailable),
    ],
)
def test_issue3_a_server_error_is_told_apart_from_a_refusal(code: int, error: type[QueueError]) -> None:
    with pytest.raises(error) as raised:
        check(answer(code))
    assert isinstance(raised.value, QueueError)
    assert isinstance(raised.value, QueueServerError) == (code >= 500)
    assert isinstance(raised.value, QueueRefused) == (code in (400, 401, 403, 409, 413, 422))


def _claimed(calls: Calls, task_id: str, attempts: int) -> None:
    now = datetime.now(UTC)
    task = Task(
        task_id=task_id,
        id=task_id,
        type="job",
        data={},
        priority=Priority.NORMAL,
        status=TaskStatus.LEASED,
        created_at=now,
        run_at=now,
        attempts=attempts,
        max_attempts=5,
    )
    call = calls.claim(["job"])
    call.finish(httpx.Response(200, content=Tasks(tasks=[task], count=1).model_dump_json()))


@pytest.mark.parametrize("verb", ["submit", "submit_many", "release"])
def test_issue3_a_failed_request_keeps_the_delivery_for_the_next_extend(verb: str) -> None:
    calls = Calls()
    _claimed(calls, "t1", attempts=2)
    build = {
        "submit": lambda: calls.submit("t1", True, {}),
        "submit_many": lambda: calls.submit_many([ResultIn(task_id="t1", success=True, data={})]),
        "release": lambda: calls.release("t1"),
    }[verb]
    failed = build()  # built, then the server fails it (or never sees it)
    with pytest.raises(QueueServerError):
        failed.finish(answer(500))
    assert calls.extend("t1", 30.0).body == {"lease": 30.0, "attempt": 2}
    done = build()
    done.finish(answer(200, {"accepted": ["t1"], "rejected": []} if verb == "submit_many" else {}))
    assert calls.extend("t1", 30.0).body == {"lease": 30.0, "attempt": None}  # forgotten once taken
