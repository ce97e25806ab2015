"""How the clients put a `Call` on the wire: urllib3 (sync) and aiohttp (async), one keep-alive pool each.

A task's round trip crosses three client exchanges (the enqueue, the worker's claim, its result), so
the per-request cost of the HTTP library is most of what the client adds. Measured here on one
loopback claim: httpx 0.47 ms sync / 0.65 ms async, urllib3 0.29 ms, aiohttp 0.25 ms, a raw socket
0.17 ms; so the async wire to a plain-http server is `http1.Http1Pool`, streams and nothing else.
Headers, JSON and timeouts are built once; the answer comes back as a `Reply` for the `Call` to
judge. Anything that goes wrong on the way raises `QueueUnavailable`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import urllib3

from autonomic.errors import InvalidRequest, QueueUnavailable
from autonomic.queue.http1 import Http1Pool, Http1SyncPool

if TYPE_CHECKING:
    import aiohttp

MAX_CONNECTIONS = 16
JSON_TYPE = {"Content-Type": "application/json"}


@dataclass(frozen=True, slots=True)
class Reply:
    """The server's answer: what a `Call` needs of it (the same attributes as an `httpx.Response`)."""

    status_code: int
    content: bytes
    reason_phrase: str = ""

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


def encode(body: Any) -> bytes | None:
    """The JSON body as httpx would send it (compact, UTF-8, no NaN)."""
    if body is None:
        return None
    try:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except UnicodeEncodeError:
        raise InvalidRequest("text with a lone surrogate (not valid Unicode) cannot be sent") from None
    except (ValueError, TypeError) as exc:
        raise InvalidRequest(f"the request cannot be sent as JSON: {exc}") from None


def target(path: str, params: dict[str, Any] | None) -> str:
    if not params:
        return path
    # A number or a plain word needs no escaping (`?wait=30` on every `run`); anything else is encoded.
    if all(
        type(v) in (int, float) or (type(v) is str and v.isalnum() and v.isascii()) for v in params.values()
    ):
        return f"{path}?{'&'.join(f'{k}={v}' for k, v in params.items())}"
    return f"{path}?{urlencode(params)}"


def unreachable(base_url: str, exc: BaseException, timed_out: bool) -> QueueUnavailable:
    if timed_out:
        return QueueUnavailable(f"queue server at {base_url} did not answer in time")
    return QueueUnavailable(f"queue server not reachable at {base_url} ({type(exc).__name__}: {exc})")


class _Wire:
    def __init__(self, base_url: str, headers: dict[str, str], timeout: float) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self._prefix = urlsplit(base_url).path.rstrip("/")
        self._plain = dict(headers)
        self._json = {**headers, **JSON_TYPE}

    def _headers(self, body: bytes | None) -> dict[str, str]:
        return self._plain if body is None else self._json


class SyncWire(_Wire):
    """The blocking wire, thread-safe: `http1.Http1SyncPool` for plain http, urllib3 for https."""

    def __init__(self, base_url: str, headers: dict[str, str], timeout: float) -> None:
        super().__init__(base_url, headers, timeout)
        self._lean = Http1SyncPool(base_url, self._plain) if base_url.startswith("http://") else None
        self._pool = (
            None
            if self._lean
            else urllib3.connection_from_url(base_url, maxsize=MAX_CONNECTIONS, block=False)
        )
        self._timeouts: dict[float, urllib3.Timeout] = {}

    def send(self, method: str, path: str, body: bytes | None, wait: float) -> Reply:
        if self._lean is not None:
            kind = None if body is None else JSON_TYPE["Content-Type"]
            try:
                answer = self._lean.send(method, path, body, kind, self.timeout, self.timeout + wait)
            except OSError as exc:  # socket.timeout is a TimeoutError, an OSError
                raise unreachable(self.base_url, exc, isinstance(exc, TimeoutError)) from None
            return Reply(answer.status, answer.body, answer.reason)
        assert self._pool is not None
        timeout = self._timeouts.get(wait) or self._timeout(wait)
        try:
            response = self._pool.urlopen(
                method,
                self._prefix + path,
                body=body,
                headers=self._headers(body),
                timeout=timeout,
                retries=False,
                redirect=False,
                assert_same_host=False,
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            refused = isinstance(exc, urllib3.exceptions.NewConnectionError)  # a TimeoutError subclass
            timed_out = not refused and isinstance(exc, urllib3.exceptions.TimeoutError | TimeoutError)
            raise unreachable(self.base_url, exc, timed_out) from None
        return Reply(response.status, response.data, response.reason or "")

    def _timeout(self, wait: float) -> urllib3.Timeout:
        timeout = urllib3.Timeout(connect=self.timeout, read=self.timeout + wait)
        if len(self._timeouts) < 64:
            self._timeouts[wait] = timeout
        return timeout

    def close(self) -> None:
        if self._lean is not None:
            self._lean.close_all()
        if self._pool is not None:
            self._pool.close()


class AsyncWire(_Wire):
    """The async wire: `http1.Http1Pool` for plain http (the worker's case), aiohttp for https.

    Both open on first use, inside the event loop that will use them.
    """

    def __init__(self, base_url: str, headers: dict[str, str], timeout: float) -> None:
        super().__init__(base_url, headers, timeout)
        self._lean = base_url.startswith("http://")
        self._pool: Http1Pool | None = None
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    async def send(self, method: str, path: str, body: bytes | None, wait: float) -> Reply:
        if self._lean:
            return await self._send_lean(method, path, body, wait)
        return await self._send_aiohttp(method, path, body, wait)

    async def _send_lean(self, method: str, path: str, body: bytes | None, wait: float) -> Reply:
        pool = self._pool or self._open_pool()
        kind = None if body is None else JSON_TYPE["Content-Type"]
        try:
            answer = await pool.request(method, path, body, kind, self.timeout, self.timeout + wait)
        except (OSError, TimeoutError) as exc:
            raise unreachable(self.base_url, exc, isinstance(exc, TimeoutError)) from None
        return Reply(answer.status, answer.body, answer.reason)

    def _open_pool(self) -> Http1Pool:
        self._pool = Http1Pool(self.base_url, self._plain)
        return self._pool

    async def _send_aiohttp(self, method: str, path: str, body: bytes | None, wait: float) -> Reply:
        import aiohttp

        session = self._session or self._open()
        timeout = self._timeouts.get(wait) or self._timeout(wait)
        try:
            async with session.request(
                method,
                self.base_url + path,
                data=body,
                headers=self._headers(body),
                timeout=timeout,
                allow_redirects=False,
            ) as response:
                content = await response.read()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            timed_out = isinstance(exc, TimeoutError)
            raise unreachable(self.base_url, exc, timed_out) from None
        return Reply(response.status, content, response.reason or "")

    def _open(self) -> aiohttp.ClientSession:
        import aiohttp

        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS),
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        return self._session

    def _timeout(self, wait: float) -> aiohttp.ClientTimeout:
        import aiohttp

        timeout = aiohttp.ClientTimeout(
            total=None, connect=self.timeout, sock_connect=self.timeout, sock_read=self.timeout + wait
        )
        if len(self._timeouts) < 64:
            self._timeouts[wait] = timeout
        return timeout

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        if self._session is not None:
            await self._session.close()
            self._session = None
