"""`serve`: run the queue server of a workspace in the foreground until SIGTERM or Ctrl-C.

It is handed its validated `QueueSettings`; reading `autonomic.toml` is the CLI's job.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import sys
from types import FrameType

import uvicorn

from autonomic import api_token
from autonomic.clock import SystemClock
from autonomic.errors import QueueError, StoreError
from autonomic.eventlog import EventLog
from autonomic.platform import ports
from autonomic.queue.server.app import create_app
from autonomic.queue.server.connections import guarded_protocol
from autonomic.queue.server.service import QueueService
from autonomic.queue.settings import QueueSettings
from autonomic.queue.store import Policy, open_store
from autonomic.queue.store.postgres.url import redact
from autonomic.workspace import Workspace

log = logging.getLogger("autonomic.queue")


def serve(workspace: Workspace, settings: QueueSettings) -> None:
    """Open the store, bind the port, and serve until told to stop. Problems are one-line errors."""
    _configure_logging()
    token = _token(workspace, settings)
    sock = _listen(settings.bind, settings.port)
    clock = SystemClock()  # one clock for the store and the service: run_at is set and compared on it
    events = EventLog(workspace.orchestrator_log)
    try:
        store = open_store(
            settings.store,
            workspace.queue_db,
            root=workspace.root,
            clock=clock,
            policy=Policy.from_settings(settings),
            sync=settings.sync,
        )
    except StoreError as exc:
        events.write("store_check", "queue", "failed", str(exc))
        raise
    for notice in getattr(store, "notices", ()):
        events.write("store_recovery", "queue", "warning", notice)
    service = QueueService(store, settings, clock)
    app = create_app(service, settings, token)
    server = _Server(
        uvicorn.Config(
            app,
            http=guarded_protocol(_file_limit()),
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="on",
            ws="none",
            server_header=False,
            # The peer address is the socket's: no X-Forwarded-For rewriting (the Guard judges the Host,
            # Origin and token; a proxy in front is not a setup this server supports), one layer less.
            proxy_headers=False,
            date_header=False,  # kept current by a 10 Hz tick in uvicorn; the API does not need it
            timeout_graceful_shutdown=5,
            timeout_keep_alive=30,
        ),
        service,
    )
    log.info(
        "serving http://%s:%d (store %s, token %s)",
        _url_host(settings.bind),
        settings.port,
        redact(settings.store) if settings.store else workspace.queue_db,
        "required" if settings.require_token else "optional",
    )
    server.run(sockets=[sock])


class _Server(uvicorn.Server):
    """uvicorn, plus: on SIGTERM/SIGINT, wake every long poll so shutdown does not wait out their `wait`;
    and no 10 Hz main-loop tick: the loop sleeps until a request, a timer or a signal."""

    def __init__(self, config: uvicorn.Config, service: QueueService) -> None:
        super().__init__(config)
        self._service = service
        self._loop: asyncio.AbstractEventLoop | None = None
        self._exit: asyncio.Event | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        self._exit = asyncio.Event()
        await super().startup(sockets)

    async def main_loop(self) -> None:
        await self.on_tick(0)  # sets the default headers once (no Date header: nothing to refresh)
        if self._exit is not None and not self.should_exit:
            await self._exit.wait()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if self._loop is not None and not self._loop.is_closed():
            # A signal handler may interrupt the loop anywhere: hand the wake-up to the loop itself.
            self._loop.call_soon_threadsafe(self._service.stop)
            if self._exit is not None:
                self._loop.call_soon_threadsafe(self._exit.set)


def _token(workspace: Workspace, settings: QueueSettings) -> str | None:
    """The workspace token; created (0600) if `init` left none, so a required token always exists."""
    if not settings.require_token:
        return api_token.read(workspace)
    token, minted = api_token.mint(workspace)
    if minted:
        log.warning("no token found: created %s", workspace.token_file)
    return token


def _listen(host: str, port: int) -> socket.socket:
    """Bind the listening socket ourselves, so a busy port is a clear error instead of a uvicorn exit."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            reason = f"{reason}; {ports.describe_holder(port)}"
        raise QueueError(f"cannot listen on {_url_host(host)}:{port}: {reason}") from None
    sock.set_inheritable(True)
    return sock


def _file_limit() -> int:
    if sys.platform == "win32":  # no per-process descriptor limit; the proactor handles thousands
        return 8192
    else:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        return soft if soft != resource.RLIM_INFINITY else 65536


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _configure_logging() -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
