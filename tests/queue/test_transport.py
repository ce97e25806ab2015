"""The clients' wire (urllib3 / aiohttp): what reaches the server, and every failure a `QueueUnavailable`."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from autonomic.errors import InvalidRequest, QueueUnavailable
from autonomic.queue.client import AsyncQueueClient, QueueClient
from autonomic.queue.transport import Reply, encode, target
from tests.helpers import free_port


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A port that accepts connections (from its backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_issue3_a_body_is_sent_as_httpx_sent_it() -> None:
    assert encode({"type": "é", "data": {"n": 1}}) == '{"type":"é","data":{"n":1}}'.encode()
    assert encode(None) is None
    with pytest.raises(InvalidRequest, match="not JSON compliant"):
        encode({"x": float("nan")})
    with pytest.raises(InvalidRequest, match="lone surrogate"):
        encode({"x": "\ud800"})
    assert target("/api/results/a%2Fb", {"wait": 2.5}) == "/api/results/a%2Fb?wait=2.5"
    assert target("/api/stats", None) == "/api/stats"


def test_issue3_a_reply_reads_like_a_response() -> None:
    reply = Reply(422, b'{"detail":"bad"}', "Unprocessable Entity")
    assert not reply.is_success and reply.json() == {"detail": "bad"} and reply.text == '{"detail":"bad"}'
    assert Reply(204, b"").is_success


def test_issue3_a_silent_server_is_a_timeout(silent_url: str) -> None:
    with (
        QueueClient(silent_url, "t", timeout=0.3) as client,
        pytest.raises(QueueUnavailable, match="did not answer in time"),
    ):
        client.stats()


def test_issue3_the_async_client_fails_the_same_ways(silent_url: str) -> None:
    async def scenario() -> None:
        closed = AsyncQueueClient(f"http://127.0.0.1:{free_port()}", "t", timeout=2.0)
        silent = AsyncQueueClient(silent_url, "t", timeout=0.3)
        try:
            with pytest.raises(QueueUnavailable, match="not reachable at"):
                await closed.claim(["job"])
            with pytest.raises(QueueUnavailable, match="did not answer in time"):
                await silent.stats()
        finally:
            await closed.close()
            await silent.close()

    asyncio.run(scenario())


# --- the lean HTTP/1.1 wire the worker uses ----------------------------------------------------------


def test_issue9_the_lean_wire_keeps_connections_alive_retries_a_stale_one_and_reads_chunks() -> None:
    """A scripted server: answers with a length, then chunked, then closes its idle connection."""
    from autonomic.queue.http1 import Http1Pool

    seen: list[bytes] = []
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        for answer in (
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
            b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        ):
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                ),
                0,
            )
            seen.append(head + await reader.readexactly(length))
            writer.write(answer)
            await writer.drain()
        writer.close()  # an idle keep-alive connection the server drops

    async def scenario() -> list[tuple[int, bytes]]:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        pool = Http1Pool(f"http://127.0.0.1:{port}/base", {"Authorization": "Bearer t"})
        try:
            got = []
            for body in (b'{"a":1}', None, b"{}"):
                answer = await pool.request("POST", "/x", body, "application/json", 2.0, 2.0)
                got.append((answer.status, answer.body))
                await asyncio.sleep(0.05)
            return got
        finally:
            await pool.close()
            server.close()
            await server.wait_closed()

    got = asyncio.run(scenario())
    assert got == [(200, b"ok"), (201, b"abcde"), (200, b"ok")]
    assert connections == 2  # the first two on one connection; the third on a fresh one
    assert seen[0].startswith(b"POST /base/x HTTP/1.1\r\n") and b"Authorization: Bearer t\r\n" in seen[0]
    assert seen[0].endswith(b'Content-Length: 7\r\n\r\n{"a":1}') and b"Content-Length: 0\r\n" in seen[1]


def test_issue9_a_cancelled_lean_request_hangs_up_its_connection() -> None:
    from autonomic.queue.http1 import Http1Pool

    async def scenario() -> bool:
        hung_up = asyncio.Event()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            await reader.read()  # never answers: returns at the client's hang-up
            hung_up.set()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        pool = Http1Pool(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", {})
        try:
            poll = asyncio.ensure_future(pool.request("GET", "/wait", None, None, 2.0, 30.0))
            await asyncio.sleep(0.1)
            poll.cancel()
            with pytest.raises(asyncio.CancelledError):
                await poll
            await asyncio.wait_for(hung_up.wait(), 5)
            return hung_up.is_set()
        finally:
            await pool.close()
            server.close()
            await server.wait_closed()

    assert asyncio.run(scenario())
