"""`SiteCheck`: the queue server's site rules for the monitor's web app. A request must name a Host that
is ours (loopback, the bind address, or `[monitor] allowed_hosts`: no DNS rebinding), and a browser
request must come from the page itself (Origin, else Sec-Fetch-Site): no cross-site requests at all."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from autonomic.queue.settings import is_loopback

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})


class SiteCheck:
    def __init__(self, bind: str, allowed_hosts: list[str], allowed_origins: list[str]) -> None:
        hosts = {h.lower().strip("[]") for h in allowed_hosts}
        if bind not in WILDCARD_BINDS:
            hosts.add(bind.lower().strip("[]"))
        self.hosts = frozenset(hosts)
        self.origins = frozenset(o.rstrip("/").lower() for o in allowed_origins)

    def refusal(self, headers: dict[str, str]) -> str | None:
        """Why a request with these headers is refused, or None if it may go on."""
        host = headers.get("host", "")
        name = host_name(host)
        if not name or not (is_loopback(name) or name in self.hosts):
            return f"Host {host!r} is not allowed (add it to [monitor].allowed_hosts)"
        origin = headers.get("origin")
        if origin is not None:
            wanted = origin.rstrip("/").lower()
            if wanted != f"http://{host}".lower() and wanted not in self.origins:
                return f"cross-site request from Origin {origin!r} refused"
            return None
        if headers.get("sec-fetch-site") in ("cross-site", "same-site"):
            return "cross-site browser request refused (Sec-Fetch-Site)"
        return None

    def wrap(self, app: ASGIApp) -> ASGIApp:
        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
                reason = self.refusal(headers)
                if reason is not None:
                    await _deny(send, reason)
                    return
            await app(scope, receive, send)

        return guarded


def host_name(host: str) -> str:
    """The name part of a Host header (`[::1]:8092` -> `::1`, `localhost:8092` -> `localhost`)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


async def _deny(send: Send, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 403, "headers": headers})
    await send({"type": "http.response.body", "body": body})
