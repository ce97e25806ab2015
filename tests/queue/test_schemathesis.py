"""Property-based requests generated from /openapi.json: whatever they send, the server never answers 5xx;
and a generated body with a lone surrogate put anywhere in it is a 422 (issue 9, item 4)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.helpers import kill_tree
from tests.queue.support import Server, make_workspace, start_server


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Long polls capped at 50 ms so generated `wait` values cannot stretch the run.
    workspace = make_workspace(tmp_path_factory.mktemp("fuzz") / "ws", max_wait="50ms", max_batch=50)
    started: list[int] = []
    try:
        yield start_server(workspace, started)
    finally:
        kill_tree(started)


def test_no_request_gets_a_server_error(fuzzed_server: Server) -> None:
    # Driven by hand rather than through schemathesis' pytest plugin, which does not load under pytest 9.
    schema = schemathesis.openapi.from_url(fuzzed_server.url + "/openapi.json")
    headers = {"Authorization": f"Bearer {fuzzed_server.token}"}
    server_errors: list[str] = []
    calls: list[int] = []
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 20

    strategies = [op.as_strategy(generation_mode=mode) for op in operations for mode in GenerationMode]
    for strategy in strategies:

        @given(case=strategy)
        @settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def call(case: schemathesis.Case[Any]) -> None:
            response = case.call(base_url=fuzzed_server.url, headers=headers, timeout=10)
            calls.append(response.status_code)
            if response.status_code >= 500:
                server_errors.append(
                    f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"
                )
            case.validate_response(response, checks=[not_a_server_error])

        call()
    assert server_errors == []
    assert len(calls) >= 2 * len(operations)  # valid and invalid requests for every operation were sent
    assert any(code < 300 for code in calls) and any(400 <= code < 500 for code in calls)


def _poison(body: Any, bad: str, where: int) -> Any:
    """`body` with the string (value or key) at position `where` (modulo their number) given a lone
    surrogate; a body without strings gets one added."""
    spots: list[tuple[Any, Any, bool]] = []  # (container, key or index, is_key)

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                spots.append((value, key, True))
                if isinstance(item, str):
                    spots.append((value, key, False))
                walk(item)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, str):
                    spots.append((value, index, False))
                walk(item)

    walk(body)
    if not spots:
        if isinstance(body, list):
            return [*body, bad]
        return {**(body if isinstance(body, dict) else {}), "x": bad}
    container, key, is_key = spots[where % len(spots)]
    if is_key:
        container[f"{key}{bad}"] = container.pop(key)
    else:
        container[key] = f"{container[key]}{bad}"
    return body


def test_a_lone_surrogate_anywhere_in_a_generated_body_is_a_422(fuzzed_server: Server) -> None:
    schema = schemathesis.openapi.from_url(fuzzed_server.url + "/openapi.json")
    headers = {"Authorization": f"Bearer {fuzzed_server.token}", "Content-Type": "application/json"}
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    with_bodies = [op for op in operations if op.method.upper() == "POST" and len(op.body) > 0]
    assert len(with_bodies) >= 8
    answers: list[tuple[str, int, str]] = []
    for operation in with_bodies:

        @given(
            case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
            where=st.integers(0, 1000),
            code=st.integers(0xD800, 0xDFFF),
        )
        @settings(max_examples=6, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def call(case: schemathesis.Case[Any], where: int, code: int) -> None:
            body = json.dumps(_poison(case.body, chr(code), where))  # ensure_ascii: "\udXXX" escapes
            assert "\\ud" in body
            answer = httpx.post(
                fuzzed_server.url + case.formatted_path, content=body, headers=headers, timeout=10
            )
            answers.append((case.formatted_path, answer.status_code, answer.text))
            assert answer.status_code == 422, (case.formatted_path, body, answer.text)
            assert "not valid Unicode" in answer.json()["detail"]

        call()
    assert len(answers) >= len(with_bodies)
