"""`http`: one HTTP request through httpx (capability "http").

`data = {"url": ..., "method": "GET", "headers": {}, "params": {}, "json": ... | "body": "text",
"timeout": 30, "follow_redirects": false, "raise_for_status": true}`. The result carries the status,
the response headers, the body as text (cut at 1 MB) and `json` when the response is JSON. A status of
400 or more fails the task unless `raise_for_status` is false.
"""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import urlparse

import httpx

from autonomic.worker.context import TaskContext
from autonomic.worker.outcome import Data, TaskFailed

MAX_BODY = 1024 * 1024
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


async def http(ctx: TaskContext) -> Data:
    """Send the request the task describes and report what came back."""
    data = ctx.data
    url, method = _url(data), str(data.get("method", "GET")).upper()
    if method not in METHODS:
        raise TaskFailed(f"method must be one of {', '.join(METHODS)}")
    timeout = data.get("timeout", 30.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise TaskFailed("timeout must be a positive number of seconds")
    request: dict[str, Any] = {
        "headers": _mapping(data, "headers"),
        "params": _mapping(data, "params"),
    }
    if "json" in data:
        request["json"] = data["json"]
    elif "body" in data:
        request["content"] = str(data["body"]).encode()
    redirects = bool(data.get("follow_redirects"))
    async with httpx.AsyncClient(timeout=float(timeout), follow_redirects=redirects) as client:
        try:
            response = await client.request(method, url, **request)
        except httpx.HTTPError as exc:
            raise TaskFailed(f"{method} {url}: {type(exc).__name__}: {exc}") from None
    result = _describe(response)
    if response.status_code >= 400 and data.get("raise_for_status", True):
        raise TaskFailed(f"{method} {url}: HTTP {response.status_code}", result)
    return result


def _describe(response: httpx.Response) -> Data:
    body = response.content[:MAX_BODY].decode(response.encoding or "utf-8", errors="replace")
    result: Data = {
        "status": response.status_code,
        "url": str(response.url),
        "headers": dict(response.headers),
        "body": body,
        "truncated": len(response.content) > MAX_BODY,
        "elapsed_ms": round(response.elapsed.total_seconds() * 1000, 2),
    }
    if "json" in response.headers.get("content-type", "") and not result["truncated"]:
        with contextlib.suppress(ValueError):
            result["json"] = response.json()
    return result


def _url(data: dict[str, Any]) -> str:
    url = data.get("url")
    if not isinstance(url, str) or urlparse(url).scheme.lower() not in ("http", "https"):
        raise TaskFailed("url must be an http:// or https:// URL")
    return url


def _mapping(data: dict[str, Any], key: str) -> dict[str, str]:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise TaskFailed(f"{key} must be an object")
    return {str(k): str(v) for k, v in value.items()}
