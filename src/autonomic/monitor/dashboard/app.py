"""The monitor's web app on `[monitor] port` (default 127.0.0.1:8092): the live page, its event stream,
the restart/stop buttons, `/metrics` and the login.

Every request passes the same site checks as the queue server (a Host that is ours: DNS rebinding; no
cross-site browser requests: Origin and Sec-Fetch-Site). Then it needs a credential: the workspace token
as `Authorization: Bearer` (scripts, Prometheus), or the session cookie a one-time login code opened
(browsers). A state-changing request from a browser also needs the session's CSRF token in
`X-CSRF-Token`. Only `/health` and `/login` are open.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from autonomic.errors import AutonomicError
from autonomic.monitor.dashboard.hub import Hub
from autonomic.monitor.dashboard.page import live_page
from autonomic.monitor.dashboard.sessions import Session, Sessions, same_secret
from autonomic.monitor.dashboard.sitecheck import SiteCheck
from autonomic.monitor.metrics import registry

Control = Callable[[str, str], dict[str, Any]]
ACTIONS = frozenset({"restart", "stop", "start"})
KEEPALIVE = 15.0
CSP = (
    "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


class Denied(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass
class Access:
    token: bool
    session: Session | None


class DashboardApp:
    """Builds the Starlette app around a `Hub`, the login `Sessions`, the token and the control client."""

    def __init__(self, hub: Hub, sessions: Sessions, token: str, control: Control, cookie: str) -> None:
        self.hub = hub
        self.sessions = sessions
        self.token = token
        self.control = control
        self.cookie = cookie
        self.metrics = registry(lambda: hub.history.latest)

    def asgi(self, site: SiteCheck) -> Any:
        routes = [
            Route("/", self.index),
            Route("/health", self.health),
            Route("/login", self.login),
            Route("/events", self.events),
            Route("/metrics", self.prometheus),
            Route("/api/summary", self.summary),
            Route("/api/login-codes", self.login_code, methods=["POST"]),
            Route("/api/services/{name}/{action}", self.service_action, methods=["POST"]),
        ]
        app = Starlette(routes=routes, exception_handlers={Denied: self._denied})
        return site.wrap(app)

    # --- credentials -------------------------------------------------------------------------------
    def _access(self, request: Request, write: bool = False) -> Access:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and value:
            if not same_secret(value.strip(), self.token):
                raise Denied(401, "wrong token")
            return Access(True, None)
        session = self.sessions.get(request.cookies.get(self.cookie))
        if session is None:
            raise Denied(
                401, "not logged in: run 'autonomic dashboard' (or send 'Authorization: Bearer <token>')"
            )
        if write and not same_secret(request.headers.get("x-csrf-token", ""), session.csrf):
            raise Denied(403, "missing or wrong CSRF token")
        return Access(False, session)

    async def _denied(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Denied)
        if "text/html" in request.headers.get("accept", "") and request.method == "GET":
            body = f"<!doctype html><title>autonomic</title><p>{exc.detail}</p>"
            return HTMLResponse(body, exc.status)
        return JSONResponse({"detail": exc.detail}, exc.status)

    # --- routes ------------------------------------------------------------------------------------
    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "sample_at": (self.hub.history.latest or {}).get("timestamp")})

    async def login_code(self, request: Request) -> Response:
        if not self._access(request).token:
            raise Denied(403, "login codes are handed out for the workspace token only")
        code = self.sessions.new_code()
        return JSONResponse({"code": code, "path": f"/login?code={code}"})

    async def login(self, request: Request) -> Response:
        found = self.sessions.redeem(request.query_params.get("code", ""))
        if found is None:
            raise Denied(
                403, "this login link was already used or has expired: run 'autonomic dashboard' again"
            )
        session_id, _ = found
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(self.cookie, session_id, httponly=True, samesite="strict", path="/")
        return response

    async def index(self, request: Request) -> Response:
        access = self._access(request)
        if self.hub.summary is None:
            return HTMLResponse(
                "<!doctype html><title>autonomic</title><p>No sample yet; reload in a few seconds.</p>"
            )
        nonce = secrets.token_urlsafe(16)
        csrf = access.session.csrf if access.session else ""
        page = live_page(self.hub.summary, self.hub.history, csrf, nonce)
        return HTMLResponse(
            page, headers={"content-security-policy": CSP.format(nonce=nonce), "cache-control": "no-store"}
        )

    async def summary(self, request: Request) -> Response:
        self._access(request)
        return JSONResponse(self.hub.summary or {})

    async def prometheus(self, request: Request) -> Response:
        self._access(request)
        return Response(generate_latest(self.metrics), media_type=CONTENT_TYPE_LATEST)

    async def events(self, request: Request) -> Response:
        self._access(request)
        return StreamingResponse(
            self._stream(),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    async def _stream(self) -> AsyncIterator[str]:
        with self.hub.watch() as queue:
            yield f"event: parts\ndata: {self.hub.parts_message()}\n\n"
            while self.hub.watching(queue):
                try:
                    message = await asyncio.wait_for(queue.get(), KEEPALIVE)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if message is None:
                    return
                event, data = message
                yield f"event: {event}\ndata: {data}\n\n"

    async def service_action(self, request: Request) -> Response:
        self._access(request, write=True)
        name, action = request.path_params["name"], request.path_params["action"]
        if action not in ACTIONS:
            raise Denied(404, f"unknown action {action!r} (restart, stop, start)")
        try:
            reply = await asyncio.to_thread(self.control, action, name)
        except AutonomicError as exc:
            return JSONResponse({"detail": str(exc)}, 409)
        return JSONResponse({"ok": True, "service": reply.get("service")})
