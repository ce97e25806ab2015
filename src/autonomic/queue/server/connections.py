"""`GuardedHttp`: uvicorn's httptools protocol with the limits a hostile client must not get past.

- A request must arrive whole (headers and body) within `REQUEST_TIMEOUT` of its first byte (or of
  the connection opening): a half-sent request is closed, never left to hold a file descriptor.
- Request line plus headers are at most `MAX_HEADER_BYTES`, and at most `MAX_HEADERS` fields: beyond,
  the answer is 431 and the connection is closed.
- A client that stops reading its answer is cut off after `WRITE_STALL_TIMEOUT` of no progress: its
  unsent answer is dropped, not kept in memory (fifty such readers of 1,000-task pages held 250 MB).
- Open connections are bounded below the file limit (`max_connections`): when a new one would exceed
  the bound, the oldest connection that is not being served (one still sending its request, or idle
  between requests) is closed to make room; a connection whose request is being answered — a worker's
  long poll — is never the one sacrificed. So `/api/health` keeps answering under a connection flood.

- An answer leaves in one write: uvicorn writes the status line and headers, then the body, as two
  writes (two segments, and often two wake-ups of the client for one answer); the head is held back
  until the body (or the end of the answer) and sent with it.

uvicorn's own `limit_concurrency` is not used: it answers 503 to everyone, health probes included,
once the limit is reached, which is exactly what a flood wants.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("autonomic.queue")

REQUEST_TIMEOUT = 10.0
WRITE_STALL_TIMEOUT = 10.0
MAX_HEADER_BYTES = 32 * 1024
MAX_HEADERS = 100
_431 = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
)


def max_connections(file_limit: int) -> int:
    """Open connections allowed with `file_limit` descriptors: room kept for the database, logs, etc."""
    return max(64, min(4096, file_limit - 256))


class GuardedHttp(HttpToolsProtocol):
    """One connection. The class attributes are set per server by `guarded_protocol`."""

    max_connections = 1024
    request_timeout = REQUEST_TIMEOUT
    open: OrderedDict[GuardedHttp, None]  # oldest first
    shed = 0  # connections closed to make room (for the log)
    stalled = 0  # connections dropped because their client stopped reading

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reading = True  # receiving a request (or waiting for the first): the timer may close us
        self._timer: asyncio.TimerHandle | None = None
        self._stall: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        self._header_count = 0
        self._too_large = False

    # --- lifetime ---------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.open[self] = None
        self._arm()
        if len(self.open) > self.max_connections:
            self._make_room()

    def connection_lost(self, exc: Exception | None) -> None:
        self.open.pop(self, None)
        self._disarm()
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
        super().connection_lost(exc)

    # --- a reader that stopped reading ------------------------------------------------------------

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._stall is None:
            self._stall = self.loop.call_later(WRITE_STALL_TIMEOUT, self._stalled)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None

    def _stalled(self) -> None:
        self._stall = None
        cls = type(self)
        cls.stalled += 1
        if cls.stalled in (1, 10, 100) or cls.stalled % 1000 == 0:
            log.warning(
                "a client stopped reading its answer for %gs: connection dropped (%d so far)",
                WRITE_STALL_TIMEOUT,
                cls.stalled,
            )
        self.transport.abort()  # drops what is still buffered for it; close() would wait to send it

    def _make_room(self) -> None:
        for other in self.open:
            if other is not self and other._idle():
                other.transport.close()
                self.open.pop(other, None)
                type(self).shed += 1
                if self.shed in (1, 10, 100) or self.shed % 1000 == 0:
                    log.warning(
                        "over %d open connections: closed the oldest idle or incomplete one (%d so far)",
                        self.max_connections,
                        self.shed,
                    )
                return
        self.transport.close()  # every other connection is being served: this one waits its turn outside

    def _idle(self) -> bool:
        """Not in the middle of being answered: still sending its request, or between requests."""
        return self._reading or self.cycle is None or self.cycle.response_complete

    # --- the request timer ------------------------------------------------------------------------

    def _arm(self) -> None:
        self._disarm()
        self._timer = self.loop.call_later(self.request_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        if self.pipeline:  # a pipelined request waits for the one before it, not for its client
            self._arm()
            return
        if self._reading and not self.transport.is_closing():
            self.transport.close()

    # --- parser callbacks -------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if not self._too_large:  # after a 431 the rest of what the client sends is not read
            super().data_received(data)

    def on_message_begin(self) -> None:
        """The first byte of a request (also the next one on a kept-alive connection)."""
        self._reading = True
        if self._timer is None:  # a new connection's clock already runs from its opening
            self._arm()
        self._header_bytes = 0
        self._header_count = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._count(len(url), 0)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value), 1)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.transport is self.transport:  # not an upgrade: an answer to send
            corked = _Corked(self.transport)
            cycle.transport = corked  # type: ignore[assignment]
            cycle.send = corked.sender(cycle.send)  # type: ignore[method-assign,assignment]

    def on_message_complete(self) -> None:
        self._reading = False
        self._disarm()
        super().on_message_complete()

    def _count(self, size: int, fields: int) -> None:
        self._header_bytes += size
        self._header_count += fields
        if self._header_bytes > MAX_HEADER_BYTES or self._header_count > MAX_HEADERS:
            self._too_large = True
            raise ValueError("request headers too large")  # httptools stops parsing: send_400_response

    def send_400_response(self, msg: str) -> None:
        if not self._too_large:
            super().send_400_response(msg)
            return
        detail = b'{"detail":"request headers over %d bytes or %d fields"}' % (MAX_HEADER_BYTES, MAX_HEADERS)
        self.transport.write(_431 % (len(detail), detail))
        self.transport.close()


class _Corked:
    """The transport as one answer's cycle sees it: the head of the answer waits for its first body write.

    `sender` wraps the cycle's ASGI `send`: the head written for `http.response.start` is held; the next
    write carries head and body together; whatever ends the answer without a write (a HEAD request, an
    empty body) sends the head on its own, and a close sends it first.
    """

    __slots__ = ("_head", "_holding", "_transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._holding = False
        self._head: bytes | None = None

    def write(self, data: bytes) -> None:
        if self._head is not None:
            data, self._head = self._head + data, None
        elif self._holding:
            self._holding = False
            self._head = data
            return
        self._transport.write(data)

    def flush(self) -> None:
        self._holding = False
        if self._head is not None:
            head, self._head = self._head, None
            self._transport.write(head)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def sender(self, send: Callable[[Any], Awaitable[None]]) -> Callable[[Any], Awaitable[None]]:
        async def corked_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                self._holding = True
                try:
                    await send(message)
                finally:
                    self._holding = False
                return
            try:
                await send(message)
            finally:
                self.flush()

        return corked_send


def guarded_protocol(file_limit: int) -> type[GuardedHttp]:
    """A protocol class of its own for one server: its connection registry and bound."""
    return type(
        "GuardedHttp",
        (GuardedHttp,),
        {"open": OrderedDict(), "max_connections": max_connections(file_limit), "shed": 0, "stalled": 0},
    )
