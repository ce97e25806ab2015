"""Issue 9, hardening: what a hostile client (with the token) sends gets a 4xx or a close, never a 5xx,
and never a stalled /api/health — lone surrogates, half-sent requests, huge headers, connection floods."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.helpers import wait_until
from tests.queue.support import Server, make_workspace, start_server

SURROGATE_BODIES = {
    "/api/tasks/create": [
        '{"type": "k", "data": {"k": "\\ud800"}}',
        '{"type": "k\\udc00", "data": {}}',
        '{"type": "k", "data": {"\\udbff": 1}}',
        '{"type": "k", "data": {"deep": [1, {"x": ["\\udfff"]}]}}',
        '{"type": "k", "data": {}, "idempotency_key": "\\ud800"}',
    ],
    "/api/tasks/batch": ['{"tasks": [{"type": "k", "data": {"k": "\\ud800"}}]}'],
    "/api/enqueue": ['{"task_type": "k", "params": {"k": "\\ud800"}}'],
    "/api/tasks": ['{"task_type": "k", "data": {}, "requester": "\\ud800"}'],
    "/api/workers/heartbeat": ['{"name": "w", "types": ["\\ud800"]}'],
}


def test_lone_surrogates_anywhere_in_a_body_are_a_422(shared_server: Server, kind: str) -> None:
    headers = {"Content-Type": "application/json", "X-Worker-Name": "w"}
    with shared_server.http(**headers) as http:
        for path, bodies in SURROGATE_BODIES.items():
            for body in bodies:
                answer = http.post(path, content=body)
                assert answer.status_code == 422, (path, body, answer.text)
                assert "not valid Unicode" in answer.json()["detail"]
        task_id = http.post("/api/tasks/create", json={"type": kind, "data": {}}).json()["task_id"]
        assert http.post("/api/tasks/claim", json={"types": [kind]}).json()["count"] == 1
        for body in ('{"success": true, "data": {"x": "\\udfff"}}', '{"success": false, "error": "\\ud800"}'):
            answer = http.post(f"/api/tasks/{task_id}/result", content=body)
            assert answer.status_code == 422, answer.text
        batch = {"results": [{"task_id": task_id, "success": True, "data": {"x": "\ud800"}}]}
        answer = http.post("/api/results/batch", content=json.dumps(batch))
        assert answer.status_code == 422
        # A surrogate pair is a real character, and an escaped backslash is no escape at all: both stored.
        fine = '{"success": true, "data": {"emoji": "\\ud83d\\ude00", "text": "\\\\ud800"}}'
        assert http.post(f"/api/tasks/{task_id}/result", content=fine).status_code == 200
        stored = http.get(f"/api/results/{task_id}").json()["data"]
        assert stored == {"emoji": "\U0001f600", "text": "\\ud800"}
        # Raw bytes that are not UTF-8 at all are refused too, as malformed JSON.
        raw = b'{"type": "k", "data": {"k": "\xed\xa0\x80"}}'
        answer = http.post("/api/tasks/create", content=raw)
        assert answer.status_code == 422 and "not UTF-8" in answer.json()["detail"]


def _open(server: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=5)


def _closed_by_server(sock: socket.socket) -> bool:
    """True once the server has closed the connection (EOF or reset); never blocks."""
    sock.setblocking(False)
    try:
        return sock.recv(65536) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_half_sent_requests_are_closed_within_ten_seconds(shared_server: Server) -> None:
    host = f"Host: 127.0.0.1:{shared_server.port}\r\n"
    silent = _open(shared_server)
    partial_headers = _open(shared_server)
    partial_headers.sendall(b"GET /api/health HTTP/1.1\r\n" + host.encode())
    partial_body = _open(shared_server)
    partial_body.sendall(
        b"POST /api/tasks/create HTTP/1.1\r\n"
        + host.encode()
        + f"Authorization: Bearer {shared_server.token}\r\n".encode()
        + b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"type":'
    )
    started = time.monotonic()
    stalled = [silent, partial_headers, partial_body]
    try:
        time.sleep(1.0)
        assert not any(_closed_by_server(s) for s in stalled)  # not closed at once: a slow client may finish
        assert httpx.get(shared_server.url + "/api/health", timeout=2).status_code == 200
        wait_until(
            lambda: all(_closed_by_server(s) for s in stalled), timeout=15, what="stalled requests closed"
        )
        assert time.monotonic() - started <= 12.0
    finally:
        for sock in stalled:
            sock.close()


@pytest.mark.parametrize(
    "headers",
    [
        [("X-Big", "x" * 40_000)],
        [(f"X-H{i}", "v") for i in range(150)],
        [("X-Huge", "x" * 10_000_000)],
    ],
    ids=["40kB-header", "150-headers", "10MB-header"],
)
def test_oversized_headers_get_a_431_and_a_close(
    shared_server: Server, headers: list[tuple[str, str]]
) -> None:
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers)
    request = f"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{shared_server.port}\r\n{lines}\r\n".encode()
    with _open(shared_server) as sock:
        with contextlib.suppress(OSError):  # the server may close before all of 10 MB was sent
            sock.sendall(request)
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b'"detail"' in answer
    assert httpx.get(shared_server.url + "/api/health", timeout=2).status_code == 200


@contextlib.contextmanager
def _flood(server: Server, count: int) -> Iterator[list[socket.socket]]:
    """`count` connections that each send half a request and then nothing."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            with contextlib.suppress(OSError):  # the server sheds some while we are still connecting
                sock = _open(server)
                socks.append(sock)
                sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        yield socks
    finally:
        for sock in socks:
            sock.close()


def test_a_connection_flood_leaves_health_answering_and_long_polls_alone(
    tmp_path: Path, pids: list[int], kind: str
) -> None:
    # A small file limit: 512 descriptors allow 256 connections; the flood opens three times that.
    server = start_server(make_workspace(tmp_path / "ws"), pids, file_limit=512)
    with server.client("feeder") as feeder:
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {server.token}"}, timeout=30
        ) as http:
            import threading

            answers: list[httpx.Response] = []
            poll = threading.Thread(
                target=lambda: answers.append(
                    http.post(
                        "/api/tasks/claim", json={"types": [kind], "wait": 20}, headers={"X-Worker-Name": "p"}
                    )
                )
            )
            poll.start()
            wait_until(lambda: any(w["name"] == "p" for w in feeder.workers()), what="the long poll")
            with _flood(server, 800):
                latencies = []
                for _ in range(5):
                    started = time.monotonic()
                    assert httpx.get(server.url + "/api/health", timeout=5).status_code == 200
                    latencies.append(time.monotonic() - started)
                assert min(latencies) < 0.5, latencies
                assert psutil.Process(server.proc.pid).num_fds() < 512
                assert server.proc.poll() is None
                feeder.create(kind)  # the long poll opened before the flood is still there to take it
                poll.join(timeout=10)
            assert answers and answers[0].status_code == 200 and answers[0].json()["count"] == 1
        assert "open connections: closed the oldest idle or incomplete one" in server.log


def test_a_client_that_stops_reading_is_cut_off_and_its_answer_dropped(
    tmp_path: Path, pids: list[int]
) -> None:
    server = start_server(make_workspace(tmp_path / "ws"), pids)
    with server.http() as http:
        for _ in range(3):  # pages of about 1.5 MB
            batch = {"tasks": [{"type": "big", "data": {"pad": "x" * 700}} for _ in range(1000)]}
            assert http.post("/api/tasks/batch", json=batch).status_code == 200
    auth = f"Authorization: Bearer {server.token}\r\n"
    request = f"GET /api/tasks?limit=1000 HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n"
    readers: list[socket.socket] = []
    proc = psutil.Process(server.proc.pid)
    try:
        for _ in range(10):  # ask for five pages each, read none of them
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", server.port))
            sock.sendall(request.encode() * 5)
            readers.append(sock)
        started = time.monotonic()
        wait_until(lambda: len(proc.net_connections()) >= 11, timeout=10, what="the readers connected")
        assert httpx.get(server.url + "/api/health", timeout=5).status_code == 200
        wait_until(lambda: len(proc.net_connections()) <= 1, timeout=30, what="stalled readers cut off")
        assert time.monotonic() - started >= 8.0  # a slow reader that makes progress is not cut off early
    finally:
        for sock in readers:
            sock.close()
    assert "stopped reading its answer" in server.log
