"""Property-based requests generated from /openapi.json: whatever they send, the server never answers 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
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
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    strategies = [op.as_strategy(generation_mode=mode) for op in operations for mode in GenerationMode]
    for strategy in strategies:

        @given(case=strategy)
        @settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def call(case: schemathesis.Case) -> None:
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
