"""The control channel between the CLI and a running orchestrator: JSON lines over a loopback TCP
socket, authenticated by a secret in `.autonomic/control.json` (0600). It works whether or not the
task queue server is up, and on every OS."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from autonomic import atomic
from autonomic.errors import ControlError, NotRunningError

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
MAX_MESSAGE = 4 * 1024 * 1024


class ControlServer:
    """Serves requests to `handler` after checking the secret; one JSON object per line each way."""

    def __init__(self, control_file: Path, handler: Handler) -> None:
        self.control_file = control_file
        self.handler = handler
        self.secret = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=MAX_MESSAGE)
        self.port = int(self._server.sockets[0].getsockname()[1])
        self.publish()
        return self.port

    def publish(self) -> None:
        """Write (or, if it was deleted or damaged, rewrite) the control file clients read."""
        atomic.write_json(self.control_file, {"port": self.port, "secret": self.secret, "pid": os.getpid()})

    def published(self) -> bool:
        try:
            raw = json.loads(self.control_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(raw, dict) and raw.get("port") == self.port and raw.get("secret") == self.secret

    async def close(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.control_file.unlink()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 10.0)
            reply = await self._answer(line)
            writer.write(json.dumps(reply, default=str).encode() + b"\n")
            await writer.drain()
        except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
        except ValueError:
            return {"ok": False, "error": "malformed request"}
        if not isinstance(request, dict) or not _same(str(request.get("secret", "")), self.secret):
            return {"ok": False, "error": "not authorised"}
        try:
            return await self.handler(request)
        except ControlError as exc:
            return {"ok": False, "error": str(exc)}


class ControlClient:
    """The CLI's half: one request, one reply."""

    def __init__(self, port: int, secret: str, pid: int | None = None) -> None:
        self.port = port
        self.secret = secret
        self.pid = pid

    @classmethod
    def for_file(cls, control_file: Path) -> ControlClient:
        try:
            raw = json.loads(control_file.read_text(encoding="utf-8"))
            return cls(int(raw["port"]), str(raw["secret"]), raw.get("pid"))
        except FileNotFoundError:
            raise NotRunningError("the orchestrator is not running (run 'autonomic up')") from None
        except (OSError, ValueError, KeyError, TypeError):
            raise NotRunningError(f"{control_file}: unreadable; the orchestrator is not running") from None

    def request(self, command: str, timeout: float = 30.0, **fields: Any) -> dict[str, Any]:
        payload = json.dumps({"secret": self.secret, "command": command, **fields}).encode() + b"\n"
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
                sock.sendall(payload)
                reply = _read_line(sock)
        except (ConnectionRefusedError, ConnectionResetError):
            raise NotRunningError("the orchestrator is not running (run 'autonomic up')") from None
        except TimeoutError:
            raise ControlError(f"the orchestrator did not answer '{command}' within {timeout:g}s") from None
        except OSError as exc:
            raise NotRunningError(f"cannot reach the orchestrator: {exc.strerror or exc}") from None
        try:
            answer = json.loads(reply)
        except ValueError:
            raise ControlError("the orchestrator sent a malformed reply") from None
        if not isinstance(answer, dict):
            raise ControlError("the orchestrator sent a malformed reply")
        if not answer.get("ok"):
            raise ControlError(str(answer.get("error", "request refused")))
        return answer


def _read_line(sock: socket.socket) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if chunk.endswith(b"\n") or size > MAX_MESSAGE:
            break
    return b"".join(chunks)


def _same(given: str, expected: str) -> bool:
    """Compare in time independent of where the strings differ. (hmac.compare_digest would do, but
    importing hmac loads OpenSSL, ~4 MB the lean orchestrator does not otherwise need.)"""
    a, b = given.encode(), expected.encode()
    difference = len(a) ^ len(b)
    for x, y in zip(a, b.ljust(len(a), b"\0"), strict=False):
        difference |= x ^ y
    return difference == 0
