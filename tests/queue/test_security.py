"""Each hole of the original server, tried against a real server process: every one refused with a 4xx."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.helpers import kill_tree, run_cli
from tests.queue.support import Server, make_workspace, start_server


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The legacy mode (require_token = false on loopback), with one allowed host and origin."""
    workspace = make_workspace(
        tmp_path_factory.mktemp("open") / "ws",
        require_token=False,
        max_body="4KiB",
        allowed_hosts=["queue.example.test"],
        allowed_origins=["http://dashboard.example.test"],
    )
    started: list[int] = []
    try:
        yield start_server(workspace, started)
    finally:
        kill_tree(started)


def post(server: Server, path: str, content: bytes, **headers: str) -> httpx.Response:
    return httpx.post(server.url + path, content=content, headers=headers)


def test_a_text_plain_post_is_refused(open_server: Server) -> None:
    """The original parsed any body as JSON, so any web page could enqueue desktop actions."""
    response = post(open_server, "/api/enqueue", b'{"task_type": "rpa"}', **{"Content-Type": "text/plain"})
    assert response.status_code == 415 and "application/json" in response.json()["detail"]
    form = post(
        open_server, "/api/enqueue", b"task_type=rpa", **{"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert form.status_code == 415


def test_a_cross_site_origin_is_refused(open_server: Server) -> None:
    response = post(
        open_server,
        "/api/enqueue",
        b"{}",
        **{"Content-Type": "application/json", "Origin": "https://evil.example"},
    )
    assert response.status_code == 403 and "Origin" in response.json()["detail"]
    fetch = httpx.get(open_server.url + "/api/tasks", headers={"Sec-Fetch-Site": "cross-site"})
    assert fetch.status_code == 403


def test_an_allow_listed_origin_gets_cors(open_server: Server) -> None:
    origin = "http://dashboard.example.test"
    response = httpx.get(
        open_server.url + "/api/stats", headers={"Origin": origin, "Sec-Fetch-Site": "cross-site"}
    )
    assert response.status_code == 200 and response.headers["access-control-allow-origin"] == origin
    preflight = httpx.options(
        open_server.url + "/api/enqueue", headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 204 and "POST" in preflight.headers["access-control-allow-methods"]


def test_a_same_origin_page_is_allowed(open_server: Server) -> None:
    """The docs page posts to its own origin; that is not cross-site."""
    host = f"127.0.0.1:{open_server.port}"
    response = httpx.get(
        open_server.url + "/api/stats", headers={"Origin": f"http://{host}", "Sec-Fetch-Site": "same-origin"}
    )
    assert response.status_code == 200


def test_a_foreign_host_header_is_refused(open_server: Server) -> None:
    """DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1."""
    response = httpx.get(open_server.url + "/api/tasks", headers={"Host": f"evil.example:{open_server.port}"})
    assert response.status_code == 403 and "Host" in response.json()["detail"]
    assert httpx.get(open_server.url + "/api/health", headers={"Host": "evil.example"}).status_code == 403
    allowed = httpx.get(open_server.url + "/api/stats", headers={"Host": "queue.example.test:1"})
    assert allowed.status_code == 200
    assert httpx.get(open_server.url + "/api/stats", headers={"Host": "localhost"}).status_code == 200


def test_next_needs_a_worker_name_when_no_token_is_required(open_server: Server) -> None:
    """The original let an <img src=.../api/tasks/next> steal tasks; an <img> cannot set headers."""
    response = httpx.get(open_server.url + "/api/tasks/next")
    assert response.status_code == 403 and "X-Worker-Name" in response.json()["detail"]
    named = httpx.get(
        open_server.url + "/api/tasks/next", params={"types": "none"}, headers={"X-Worker-Name": "w"}
    )
    assert named.status_code == 200


def test_an_oversize_body_is_refused(open_server: Server) -> None:
    big = b'{"type": "x", "data": {"blob": "' + b"a" * 5000 + b'"}}'
    response = post(open_server, "/api/tasks/create", big, **{"Content-Type": "application/json"})
    assert response.status_code == 413 and "limit" in response.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is counted as the body arrives
        yield big[:3000]
        yield big[3000:]

    chunked = httpx.post(
        open_server.url + "/api/tasks/create", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert chunked.status_code == 413


def test_a_small_chunked_body_is_accepted(open_server: Server) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"type": "chunky",'
        yield b' "data": {}}'

    response = httpx.post(
        open_server.url + "/api/tasks/create", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text


def test_malformed_json_is_a_422_with_a_message(open_server: Server) -> None:
    response = post(open_server, "/api/tasks/create", b"{not json", **{"Content-Type": "application/json"})
    assert response.status_code == 422 and isinstance(response.json()["detail"], str)
    missing = post(open_server, "/api/tasks/create", b'{"data": {}}', **{"Content-Type": "application/json"})
    assert missing.status_code == 422 and "type" in missing.json()["detail"]


def test_a_missing_or_wrong_token_is_refused(shared_server: Server) -> None:
    url = shared_server.url
    missing = httpx.post(url + "/api/tasks/create", json={"type": "x", "data": {}})
    assert missing.status_code == 401 and "missing token" in missing.json()["detail"]
    wrong = httpx.get(url + "/api/tasks", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "wrong token" in wrong.json()["detail"]
    for path in ("/api/results", "/api/stats", "/api/inflight", "/api/workers", "/api/dlq"):
        assert httpx.get(url + path).status_code == 401, path
    # With a token required, a worker name alone does not open `next`.
    assert httpx.get(url + "/api/tasks/next", headers={"X-Worker-Name": "w"}).status_code == 401
    ok = httpx.get(url + "/api/tasks", headers={"X-Autonomic-Token": shared_server.token})
    assert ok.status_code == 200


def test_health_is_open_but_shows_no_task_data(shared_server: Server) -> None:
    body = httpx.get(shared_server.url + "/api/health").json()
    assert set(body) == {
        "status",
        "service",
        "queue_size",
        "results_count",
        "timestamp",
        "queue_urgent",
        "queue_normal",
        "queue_low",
    }


def test_no_token_is_refused_on_a_non_loopback_bind(tmp_workspace: object) -> None:
    from pathlib import Path

    workspace = make_workspace(Path(str(tmp_workspace)), require_token=False)
    result = run_cli("serve", "--workspace", str(workspace.root), "--bind", "0.0.0.0", timeout=30)
    assert result.returncode == 2 and "only allowed with a loopback bind" in result.stderr
    assert "Traceback" not in result.stderr


# --- the fast lane: the hot endpoints skip FastAPI's routing, never the Guard (issue 3) -------------

HOT = [
    ("POST", "/api/tasks/create", b'{"type": "rpa", "data": {}}'),
    ("POST", "/api/tasks/create?wait=1", b'{"type": "rpa", "data": {}}'),
    ("POST", "/api/tasks/claim", b'{"types": ["rpa"]}'),
    ("POST", "/api/tasks/next", b""),
    ("GET", "/api/tasks/next", b""),
    ("POST", "/api/tasks/some-id/result", b'{"success": true}'),
    ("POST", "/api/results/batch", b'{"results": [{"task_id": "x", "success": true}]}'),
    ("GET", "/api/results/some-id?wait=1", b""),
]


@pytest.mark.parametrize(("method", "path", "body"), HOT)
def test_issue3_the_fast_lane_refuses_what_the_guard_refuses(
    open_server: Server, shared_server: Server, method: str, path: str, body: bytes
) -> None:
    json_type = {"Content-Type": "application/json", "X-Worker-Name": "w"}

    def send(server: Server, **headers: str) -> httpx.Response:
        return httpx.request(method, server.url + path, content=body or None, headers=headers)

    if body:
        assert send(open_server, **{**json_type, "Content-Type": "text/plain"}).status_code == 415
    assert send(open_server, **json_type, Origin="https://evil.example").status_code == 403
    assert send(open_server, **json_type, **{"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert send(open_server, **json_type, Host="evil.example:8091").status_code == 403
    missing = send(shared_server, **json_type)
    assert missing.status_code == 401 and "token" in missing.json()["detail"]
    wrong = send(shared_server, **json_type, Authorization="Bearer nope")
    assert wrong.status_code == 401


def test_issue3_the_fast_lane_refuses_oversize_bodies_and_nameless_claims(open_server: Server) -> None:
    big = b'{"type": "rpa", "data": {"x": "' + b"y" * 5000 + b'"}}'
    response = post(open_server, "/api/tasks/create", big, **{"Content-Type": "application/json"})
    assert response.status_code == 413
    for method, path, body in HOT[2:5]:
        nameless = httpx.request(
            method, open_server.url + path, content=body or None, headers={"Content-Type": "application/json"}
        )
        assert nameless.status_code == 403 and "X-Worker-Name" in nameless.json()["detail"], path


def test_issue3_the_fast_lane_answers_invalid_requests_as_the_routes_do(shared_server: Server) -> None:
    with shared_server.http() as http:
        missing = http.post("/api/tasks/create", json={"type": "x"})
        assert missing.status_code == 422 and missing.json()["detail"] == "body.data: Field required"
        bad_wait = http.get("/api/results/nope", params={"wait": "-1"})
        assert bad_wait.status_code == 422 and "query.wait" in bad_wait.json()["detail"]
        unknown = http.post("/api/tasks/nope/result", json={"success": True})
        assert unknown.status_code == 404 and unknown.json() == {"detail": "no task nope"}
        no_result = http.get("/api/results/nope")
        assert no_result.status_code == 404 and no_result.json() == {"detail": "no result for task nope"}
        wrong_method = http.put("/api/tasks/claim", json={})
        assert wrong_method.status_code == 405
