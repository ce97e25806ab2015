"""The requests the clients build: errors by status class, and the delivery each held task is under."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from autonomic.errors import (
    BadAnswer,
    InvalidRequest,
    QueueAuthError,
    QueueError,
    QueueRefused,
    QueueServerError,
    QueueUnavailable,
    TaskConflict,
    TaskNotFound,
)
from autonomic.queue.answers import check
from autonomic.queue.calls import Calls
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
    assert isinstance(raised.value, QueueRefused) == (code < 500)  # a 4xx will not change


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
    build: Callable[[], Any] = {
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
    assert calls.extend("t1", 30.0).body == {"lease": 30.0}  # forgotten once taken


# --- the error boundary: no pydantic exception leaves the client --------------------------------


@pytest.mark.parametrize(
    ("build", "named"),
    [
        (lambda c: c.create(""), "type"),
        (lambda c: c.create("x", priority="soon"), "priority must be one of urgent, normal, low"),
        (lambda c: c.create("x", {"n": float("nan")}), "data"),
        (lambda c: c.create("x", delay=-1), "delay"),
        (lambda c: c.claim(["x"], lease=0), "lease"),
        (lambda c: c.claim(["x"], lease=2 * 86400), "lease"),
        (lambda c: c.claim(["x"], max_tasks=0), "max_tasks"),
        (lambda c: c.claim(["x"], wait=-1), "wait"),
        (lambda c: c.extend("t", 0), "lease"),
        (lambda c: c.release("t", delay=-5), "delay"),
        (lambda c: c.submit("t", True, {"x": float("inf")}), "data"),
    ],
)
def test_issue7_a_request_the_server_would_refuse_is_refused_here_in_one_line(
    build: Callable[[Calls], Any], named: str
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        build(Calls())
    message = str(raised.value)
    assert named in message and "\n" not in message and "pydantic" not in message
    assert raised.value.exit_code == 2


def test_issue7_an_answer_that_does_not_fit_the_api_is_a_bad_answer() -> None:
    for content in (b"<html>not json</html>", b'{"tasks": [{"id": 1}], "count": 1}', b"[]"):
        with pytest.raises(BadAnswer, match="does not fit the API"):
            Calls().claim(["x"]).finish(httpx.Response(200, content=content))


def test_issue7_a_lone_surrogate_is_refused_before_sending() -> None:
    from autonomic.queue.transport import encode

    with pytest.raises(InvalidRequest, match="lone surrogate"):
        encode(Calls().create("x", {"k": "\ud800"}).body)
