"""The clients' wire (urllib3 / aiohttp): what reaches the server, and every failure a `QueueUnavailable`."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from autonomic.queue.client import AsyncQueueClient, QueueClient
from autonomic.queue.errors import QueueUnavailable
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
    with pytest.raises(ValueError):
        encode({"x": float("nan")})
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
