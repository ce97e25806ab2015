"""`Guard`: the ASGI middleware that refuses what the original server let in.

In order: a Host that is not ours (DNS rebinding), a cross-site browser request, a missing or wrong
token, a state-changing `next` without `X-Worker-Name`, a body that is not JSON (the `text/plain`
CSRF hole), a body over the size limit, a string no store can hold (a lone UTF-16 surrogate such as
`"\\ud800"`: valid JSON, but not Unicode text). Each refusal is a 4xx JSON `{"detail": ...}`.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from autonomic.queue.settings import QueueSettings, is_loopback

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Open without the token: the orchestrator's probe and the API description. They reveal no task data.
OPEN_PATHS = frozenset({"/api/health", "/health", "/openapi.json", "/docs", "/docs/oauth2-redirect"})
CLAIM_PATHS = frozenset({"/api/tasks/next", "/api/tasks/claim"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})
# A JSON escape of a UTF-16 surrogate (paired or not): only bodies with one are decoded and looked into.
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class Guard:
    """Wraps the app; lets a request through only if it passes every check in the module docstring."""

    def __init__(self, app: ASGIApp, settings: QueueSettings, token: str | None) -> None:
        self.app = app
        self.token = token.encode() if token else None
        self.require_token = settings.require_token
        self.max_body = settings.max_body
        self.origins = frozenset(o.rstrip("/").lower() for o in settings.allowed_origins)
        hosts = {h.lower().strip("[]") for h in settings.allowed_hosts}
        if settings.bind not in WILDCARD_BINDS:
            hosts.add(settings.bind.lower().strip("[]"))
        self.hosts = frozenset(hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            origin = self._check_site(headers)
            if origin and scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
                await _preflight(send, origin)
                return
            self._check_credentials(scope, headers)
            receive = await self._check_body(scope, headers, receive)
        except Refused as refusal:
            await _deny(send, refusal.status, refusal.detail)
            return
        await self.app(scope, receive, _with_cors(send, origin) if origin else send)

    def _check_site(self, headers: dict[str, str]) -> str | None:
        """Refuse foreign Hosts and cross-site browsers; return the Origin if it is allow-listed."""
        host = headers.get("host", "")
        name = _host_name(host)
        if not name or not (is_loopback(name) or name in self.hosts):
            raise Refused(403, f"Host {host!r} is not allowed (add it to [queue].allowed_hosts)")
        origin = headers.get("origin")
        if origin is not None and origin.rstrip("/").lower() in self.origins:
            return origin
        if origin is not None and origin.rstrip("/").lower() != f"http://{host}".lower():
            raise Refused(
                403, f"cross-site request from Origin {origin!r} refused (add it to [queue].allowed_origins)"
            )
        if headers.get("sec-fetch-site") in ("cross-site", "same-site"):
            raise Refused(403, "cross-site browser request refused (Sec-Fetch-Site)")
        return None

    def _check_credentials(self, scope: Scope, headers: dict[str, str]) -> None:
        path = scope["path"]
        if path in OPEN_PATHS:
            return
        authorised = self._token_ok(headers)
        if self.require_token and not authorised:
            detail = "missing token" if not self._token_given(headers) else "wrong token"
            raise Refused(
                401, f"{detail}: send 'Authorization: Bearer <token>' (the token is in .autonomic/token)"
            )
        if path in CLAIM_PATHS and not authorised and not headers.get("x-worker-name"):
            raise Refused(403, "claiming tasks changes state: send an X-Worker-Name header (or the token)")

    async def _check_body(self, scope: Scope, headers: dict[str, str], receive: Receive) -> Receive:
        if scope["method"] not in BODY_METHODS:
            return receive
        length = headers.get("content-length")
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        if length is not None and not length.isdigit():
            raise Refused(400, "invalid Content-Length")
        if (length is None or int(length) == 0) and not chunked:
            return receive
        media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
            raise Refused(415, f"request bodies must be application/json, not {media or 'untyped'}")
        if length is not None and int(length) > self.max_body:
            raise Refused(413, f"body of {length} bytes is over the limit of {self.max_body} bytes")
        return await self._buffered(receive)

    async def _buffered(self, receive: Receive) -> Receive:
        """Read the body (counting: a chunked one has no length up front), look it over, replay it."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise Refused(400, "the client went away while sending its body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise Refused(413, f"body is over the limit of {self.max_body} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if not body.isascii() and not _is_utf8(body):
            raise Refused(422, "the body is not UTF-8 text (JSON must be)")
        if SURROGATE_ESCAPE.search(body) is not None and _has_lone_surrogate(body):
            raise Refused(
                422, "the body holds a string that is not valid Unicode (a lone surrogate such as \\ud800)"
            )
        return replay_body(body, receive)

    def _token_given(self, headers: dict[str, str]) -> bool:
        return "authorization" in headers or "x-autonomic-token" in headers

    def _token_ok(self, headers: dict[str, str]) -> bool:
        if self.token is None:
            return False
        given = headers.get("x-autonomic-token", "")
        scheme, _, value = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            given = value.strip()
        return hmac.compare_digest(given.encode("latin-1"), self.token)


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _has_lone_surrogate(body: bytes) -> bool:
    """True if the JSON `body` decodes to a string (or key) holding an unpaired surrogate."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return False  # not JSON (or absurdly deep): the route's validation answers that
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


async def _deny(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _preflight(send: Send, origin: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 204,
            "headers": [
                *_cors_headers(origin),
                (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
                (
                    b"access-control-allow-headers",
                    b"authorization, content-type, x-worker-name, x-autonomic-token",
                ),
                (b"access-control-max-age", b"600"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})


def _cors_headers(origin: str) -> list[tuple[bytes, bytes]]:
    return [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]


def _with_cors(send: Send, origin: str) -> Send:
    async def sender(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), *_cors_headers(origin)]
        await send(message)

    return sender


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app a body already read, then carries on with the real one."""
    replayed = False

    async def again() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again
