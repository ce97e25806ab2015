"""A lean HTTP/1.1 keep-alive client on asyncio streams: the worker's wire to a plain-http queue server.

A task's round trip crosses the worker's wire twice (its claim, its result), so what an HTTP library
adds per request is on every task's path. This client does only what the queue's API needs: a
request with a `Content-Length` body, an answer with a `Content-Length` or chunked body, keep-alive
connections reused in a small pool. A request cancelled or timed out mid-way closes its connection
(the server sees the hang-up at once: a long poll that nobody waits for claims nothing). A reused
connection that the server had closed meanwhile is retried once on a fresh one, as urllib3 and
aiohttp do. HTTPS goes through aiohttp (`transport.AsyncWire`).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_IDLE = 16
MAX_HEADER = 64 * 1024


class ProtocolError(OSError):
    """The server's answer is not HTTP/1.1 as expected (counts as an unreachable server)."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    reason: str
    body: bytes


class _Connection:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class Http1Pool:
    """Requests to one `http://host:port`; thread-unsafe, loop-bound, like any asyncio object."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"not a plain http:// URL: {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        authority = f"[{self.host}]" if ":" in self.host else self.host
        fixed = {"Host": f"{authority}:{self.port}", "Connection": "keep-alive", **headers}
        self._head = "".join(f"{name}: {value}\r\n" for name, value in fixed.items()).encode("latin-1")
        self._idle: list[_Connection] = []

    async def request(
        self,
        method: str,
        path: str,
        body: bytes | None,
        content_type: str | None,
        connect_timeout: float,
        read_timeout: float,
    ) -> Answer:
        """Send one request and read its answer; `OSError`/`TimeoutError` when the server cannot be had."""
        message = self._message(method, path, body, content_type)
        while self._idle:
            connection = self._idle.pop()
            if connection.reader.at_eof() or connection.writer.is_closing():  # closed while idle
                connection.close()
                continue
            try:
                return await self._exchange(connection, message, read_timeout, reused=True)
            except _Stale:
                continue
        async with asyncio.timeout(connect_timeout):
            reader, writer = await asyncio.open_connection(self.host, self.port, limit=MAX_HEADER)
        return await self._exchange(_Connection(reader, writer), message, read_timeout, reused=False)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()
        for connection in idle:
            with contextlib.suppress(Exception):
                await connection.writer.wait_closed()

    def _message(self, method: str, path: str, body: bytes | None, content_type: str | None) -> bytes:
        head = f"{method} {self.prefix}{path} HTTP/1.1\r\n".encode("latin-1") + self._head
        if body is None:
            return head + (b"Content-Length: 0\r\n\r\n" if method in ("POST", "PUT") else b"\r\n")
        kind = f"Content-Type: {content_type}\r\n".encode("latin-1") if content_type else b""
        return head + kind + f"Content-Length: {len(body)}\r\n\r\n".encode("latin-1") + body

    async def _exchange(
        self, connection: _Connection, message: bytes, timeout: float, reused: bool
    ) -> Answer:
        done = False
        try:
            connection.writer.write(message)
            async with asyncio.timeout(timeout):
                answer, keep = await _read_answer(connection.reader, reused)
            done = True
        finally:
            if not done:  # failed, timed out or cancelled mid-way: this connection is spent
                connection.close()
        if keep and len(self._idle) < MAX_IDLE:
            self._idle.append(connection)
        else:
            connection.close()
        return answer


class _Stale(Exception):
    """A reused keep-alive connection turned out closed before any answer: send again on a new one."""


def _parse_head(head: bytes) -> tuple[int, str, dict[str, str], bool]:
    """Status, reason, headers (lower-case names) and whether the connection may be kept."""
    lines = head.decode("latin-1").split("\r\n")
    status_line = lines[0].split(" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith("HTTP/1.") or not status_line[1].isdigit():
        raise ProtocolError(f"not an HTTP/1.1 answer: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    keep = headers.get("connection", "").lower() != "close" and status_line[0] == "HTTP/1.1"
    return int(status_line[1]), status_line[2] if len(status_line) > 2 else "", headers, keep


def _body_kind(status: int, headers: dict[str, str]) -> int | None:
    """-1: chunked; N: that many bytes; None: to the end of the connection."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return -1
    if "content-length" in headers:
        return int(headers["content-length"])
    if status in (204, 304) or 100 <= status < 200:
        return 0
    return None


async def _read_answer(reader: asyncio.StreamReader, reused: bool) -> tuple[Answer, bool]:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if reused and not exc.partial:
            raise _Stale from None
        raise ProtocolError("the server closed the connection before answering") from None
    except asyncio.LimitOverrunError:
        raise ProtocolError("the server's answer headers are too large") from None
    status, reason, headers, keep = _parse_head(head)
    try:
        kind = _body_kind(status, headers)
        if kind == -1:
            body = await _read_chunked(reader)
        elif kind is not None:
            body = await reader.readexactly(kind)
        else:
            body = await reader.read()
            keep = False
    except (asyncio.IncompleteReadError, ValueError):
        raise ProtocolError("the server's answer was cut short") from None
    return Answer(status, reason, body), keep


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


# --- the same, blocking: the CLI's and scripts' `QueueClient` -----------------------------------------


class _SyncConnection:
    __slots__ = ("buffer", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def read_until(self, marker: bytes, limit: int = MAX_HEADER) -> bytes | None:
        """Up to and including `marker`; None at EOF before it."""
        while (end := self.buffer.find(marker)) < 0:
            if len(self.buffer) > limit:
                raise ProtocolError("the server's answer headers are too large")
            if not self.fill():
                return None
        found = bytes(self.buffer[: end + len(marker)])
        del self.buffer[: end + len(marker)]
        return found

    def read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not self.fill():
                raise ProtocolError("the server's answer was cut short")
        found = bytes(self.buffer[:size])
        del self.buffer[:size]
        return found


class Http1SyncPool(Http1Pool):
    """`Http1Pool`, blocking and thread-safe: each request takes a connection of its own."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        super().__init__(base_url, headers)
        self._sync_idle: list[_SyncConnection] = []
        self._lock = threading.Lock()

    def send(
        self,
        method: str,
        path: str,
        body: bytes | None,
        content_type: str | None,
        connect_timeout: float,
        read_timeout: float,
    ) -> Answer:
        message = self._message(method, path, body, content_type)
        while connection := self._take():
            try:
                return self._sync_exchange(connection, message, read_timeout, reused=True)
            except _Stale:
                continue
        sock = socket.create_connection((self.host, self.port), timeout=connect_timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self._sync_exchange(_SyncConnection(sock), message, read_timeout, reused=False)

    def close_all(self) -> None:
        with self._lock:
            idle, self._sync_idle = self._sync_idle, []
        for connection in idle:
            connection.close()

    def _take(self) -> _SyncConnection | None:
        with self._lock:
            return self._sync_idle.pop() if self._sync_idle else None

    def _sync_exchange(
        self, connection: _SyncConnection, message: bytes, timeout: float, reused: bool
    ) -> Answer:
        done = False
        try:
            connection.sock.settimeout(timeout)
            try:
                connection.sock.sendall(message)
            except OSError:
                if reused:
                    raise _Stale from None
                raise
            answer, keep = _read_sync_answer(connection, reused)
            done = True
        finally:
            if not done:
                connection.close()
        with self._lock:
            if keep and len(self._sync_idle) < MAX_IDLE:
                self._sync_idle.append(connection)
                return answer
        connection.close()
        return answer


def _read_sync_answer(connection: _SyncConnection, reused: bool) -> tuple[Answer, bool]:
    try:
        head = connection.read_until(b"\r\n\r\n")
    except ConnectionResetError:
        if reused:
            raise _Stale from None
        raise
    if head is None:
        if reused and not connection.buffer:
            raise _Stale
        raise ProtocolError("the server closed the connection before answering")
    status, reason, headers, keep = _parse_head(head)
    try:
        kind = _body_kind(status, headers)
    except ValueError:
        raise ProtocolError("the server's answer has a bad length") from None
    if kind == -1:
        body = _read_sync_chunked(connection)
    elif kind is not None:
        body = connection.read_exactly(kind)
    else:
        while connection.fill():
            pass
        body, keep = bytes(connection.buffer), False
    return Answer(status, reason, body), keep


def _read_sync_chunked(connection: _SyncConnection) -> bytes:
    parts: list[bytes] = []
    while True:
        line = connection.read_until(b"\r\n")
        if line is None:
            raise ProtocolError("the server's answer was cut short")
        size = int(line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while connection.read_until(b"\r\n") not in (b"\r\n", None):
                pass
            return b"".join(parts)
        parts.append(connection.read_exactly(size))
        connection.read_exactly(2)
