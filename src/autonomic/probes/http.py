"""HTTP probe: a GET whose status code falls in the expected range, within the timeout.

Plain http:// is spoken over asyncio streams (a request line and a status line are all a probe
needs), so the orchestrator stays lean: httpx alone would cost it ~10 MB of RSS, and http.client
drags in ssl. An https:// target uses http.client in a thread, loading ssl only when one exists."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from autonomic.probes.base import ProbeResult
from autonomic.probes.spec import ProbeSpec


@dataclass(frozen=True)
class HttpProbe:
    url: str
    timeout: float = 2.0
    status_min: int = 200
    status_max: int = 399

    @classmethod
    def from_spec(cls, spec: ProbeSpec) -> HttpProbe:
        return cls(str(spec.target), spec.timeout, spec.status_min, spec.status_max)

    async def check(self, pid: int | None = None, since: float | None = None) -> ProbeResult:
        started = time.monotonic()
        getter = self._get_https if self.url.startswith("https://") else self._get_http
        try:
            status = await asyncio.wait_for(getter(), self.timeout)
        except (OSError, TimeoutError, ValueError, EOFError) as exc:
            return ProbeResult(False, f"GET {self.url}: {_describe(exc)}", time.monotonic() - started)
        ok = self.status_min <= status <= self.status_max
        return ProbeResult(ok, f"GET {self.url}: {status}", time.monotonic() - started)

    async def _get_http(self) -> int:
        parts = urlsplit(self.url)
        host = parts.hostname or "127.0.0.1"
        reader, writer = await asyncio.open_connection(host, parts.port or 80)
        try:
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            host_header = parts.netloc.rsplit("@", 1)[-1]
            writer.write(
                f"GET {target} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: autonomic-probe\r\n"
                "Connection: close\r\n\r\n".encode("latin-1")
            )
            await writer.drain()
            status_line = await reader.readline()
            return _parse_status(status_line)
        finally:
            writer.close()

    async def _get_https(self) -> int:
        return await asyncio.to_thread(self._get_https_blocking)

    def _get_https_blocking(self) -> int:
        import http.client

        parts = urlsplit(self.url)
        connection = http.client.HTTPSConnection(
            parts.hostname or "127.0.0.1", parts.port, timeout=self.timeout
        )
        try:
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            connection.request(
                "GET", target, headers={"User-Agent": "autonomic-probe", "Connection": "close"}
            )
            return int(connection.getresponse().status)
        except http.client.HTTPException as exc:
            raise ValueError(str(exc) or type(exc).__name__) from exc
        finally:
            connection.close()


def _parse_status(line: bytes) -> int:
    if not line:
        raise EOFError("connection closed before a response")
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP response: {line[:60]!r}")
    return int(parts[1])


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
