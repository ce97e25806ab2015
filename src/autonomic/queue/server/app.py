"""`create_app`: the queue's ASGI application: its guard, its fast lane, the FastAPI routes behind them."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from autonomic import __version__
from autonomic.queue.server import native_routes, origin_routes
from autonomic.queue.server.fast_lane import FastLane
from autonomic.queue.server.problems import ERROR_STATUS, error_status
from autonomic.queue.server.security import ASGIApp, Guard
from autonomic.queue.server.service import QueueService
from autonomic.queue.settings import QueueSettings

log = logging.getLogger("autonomic.queue")


def create_app(service: QueueService, settings: QueueSettings, token: str | None) -> ASGIApp:
    """The queue's ASGI app. Every error leaves as JSON `{"detail": ...}`.

    The Guard checks every request first, then the fast lane answers the hot paths itself (same schemas,
    same service calls) and passes everything else, lifespan included, to the FastAPI app. Both sit in
    front of FastAPI rather than in its middleware stack: a hot request then costs none of the layers
    FastAPI puts around its own middleware (error pages, body limits, telemetry), which the fast lane
    does not use; an error the fast lane cannot map still ends as uvicorn's plain 500.
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with service.running():
            yield

    app = FastAPI(
        title="autonomic task queue",
        version=__version__,
        lifespan=lifespan,
        redoc_url=None,
        description="Durable task queue of autonomic. Send the token from .autonomic/token as "
        "`Authorization: Bearer <token>`; /api/health is open.",
    )
    app.state.service = service
    # Starlette tries routes in order: the native router holds the hot batch paths, so it goes first.
    app.include_router(native_routes.router)
    app.include_router(origin_routes.router)
    _add_error_handlers(app)
    _document_token(app)
    return Guard(FastLane(app, service), settings, token)


def _add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid)
    for kind in ERROR_STATUS:
        app.add_exception_handler(kind, _answer)


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    """422 with one readable line in `detail` (and the structured list in `errors`)."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type"))}
        for e in exc.errors()
    ]
    detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors) or "invalid request"
    return JSONResponse({"detail": detail, "errors": errors}, status_code=422)


async def _answer(_: Request, exc: Exception) -> JSONResponse:
    code, detail = error_status(exc) or (500, "internal error")
    return JSONResponse({"detail": detail}, status_code=code)


def _document_token(app: FastAPI) -> None:
    """Declare the bearer token in the OpenAPI description, so the docs page can send it."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {})["securitySchemes"] = {
                "token": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the content of .autonomic/token",
                },
            }
            schema["security"] = [{"token": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
