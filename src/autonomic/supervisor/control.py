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
from autonomic.errors import ControlError, NotRunningError, UsageError
from autonomic.supervisor import protocol
from autonomic.supervisor.protocol import Command, ErrorCode, RequestError, StatusReply

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
OnError = Callable[[str, BaseException], None]
MAX_MESSAGE = 4 * 1024 * 1024


class ControlServer:
    """Serves requests to `handler` after checking the secret; one JSON object per line each way."""

    def __init__(self, control_file: Path, handler: Handler, on_error: OnError | None = None) -> None:
        self.control_file = control_file
        self.handler = handler
        self.on_error = on_error
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
        except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError) as exc:
            self._report("reply", exc)  # the client hung up or sent nothing: it sees that itself
        finally:
            writer.close()

    async def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
        except ValueError:
            return protocol.error("malformed request", ErrorCode.BAD_REQUEST)
        if not isinstance(request, dict) or not _same(str(request.get("secret", "")), self.secret):
            return protocol.error("not authorised", ErrorCode.NOT_AUTHORISED)
        command = str(request.get("command", ""))
        try:
            return await self.handler(request)
        except RequestError as exc:
            return protocol.error(str(exc), exc.code)
        except ControlError as exc:
            return protocol.error(str(exc))
        except Exception as exc:
            self._report(command, exc)
            return protocol.error(f"{command} failed: {_describe(exc)}")

    def _report(self, what: str, exc: BaseException) -> None:
        if self.on_error is not None:
            self.on_error(what, exc)


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

    def request(self, command: Command | str, timeout: float = 30.0, **fields: Any) -> dict[str, Any]:
        """Send one command; the reply when `ok`. UsageError for an unknown service, ControlError for
        any other refusal, NotRunningError when nobody answers on the published port."""
        command = str(command)
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
            message = str(answer.get("error", "request refused"))
            if answer.get("code") == ErrorCode.UNKNOWN_SERVICE:
                raise UsageError(message)
            raise ControlError(message)
        return answer

    def status(self, timeout: float = 30.0) -> StatusReply:
        return StatusReply.from_dict(self.request(Command.STATUS, timeout=timeout))


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


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _same(given: str, expected: str) -> bool:
    """Compare in time independent of where the strings differ. (hmac.compare_digest would do, but
    importing hmac loads OpenSSL, ~4 MB the lean orchestrator does not otherwise need.)"""
    a, b = given.encode(), expected.encode()
    difference = len(a) ^ len(b)
    for x, y in zip(a, b.ljust(len(a), b"\0"), strict=False):
        difference |= x ^ y
    return difference == 0
