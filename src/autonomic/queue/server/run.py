"""`serve`: run the queue server of a workspace in the foreground until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import sys
from types import FrameType

import uvicorn
from pydantic import ValidationError

from autonomic import atomic, config
from autonomic.errors import ConfigError, QueueError
from autonomic.queue.server.app import create_app
from autonomic.queue.server.service import QueueService
from autonomic.queue.settings import QueueSettings
from autonomic.queue.store import Policy, open_store
from autonomic.scaffold import read_token
from autonomic.workspace import Workspace

log = logging.getLogger("autonomic.queue")


def settings_for(workspace: Workspace, port: int | None = None, bind: str | None = None) -> QueueSettings:
    """The workspace's `[queue]` settings with command-line overrides, validated together."""
    settings = config.load(workspace).queue
    overrides = {k: v for k, v in (("port", port), ("bind", bind)) if v is not None}
    if not overrides:
        return settings
    try:
        return QueueSettings.model_validate({**settings.model_dump(), **overrides})
    except ValidationError as exc:
        message = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"queue: {message}") from None


def serve(workspace: Workspace, port: int | None = None, bind: str | None = None) -> None:
    """Open the store, bind the port, and serve until told to stop. Problems are one-line errors."""
    settings = settings_for(workspace, port, bind)
    _configure_logging()
    token = _token(workspace, settings)
    sock = _listen(settings.bind, settings.port)
    store = open_store(
        settings.store,
        workspace.queue_db,
        root=workspace.root,
        policy=Policy.from_settings(settings),
        sync=settings.sync,
    )
    service = QueueService(store, settings)
    app = create_app(service, settings, token)
    server = _Server(
        uvicorn.Config(
            app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="on",
            ws="none",
            server_header=False,
            timeout_graceful_shutdown=5,
            timeout_keep_alive=30,
        ),
        service,
    )
    log.info(
        "serving http://%s:%d (store %s, token %s)",
        _url_host(settings.bind),
        settings.port,
        settings.store or workspace.queue_db,
        "required" if settings.require_token else "optional",
    )
    server.run(sockets=[sock])


class _Server(uvicorn.Server):
    """uvicorn, plus: on SIGTERM/SIGINT, wake every long poll so shutdown does not wait out their `wait`."""

    def __init__(self, config: uvicorn.Config, service: QueueService) -> None:
        super().__init__(config)
        self._service = service
        self._loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._loop is not None and not self._loop.is_closed():
            # A signal handler may interrupt the loop anywhere: hand the wake-up to the loop itself.
            self._loop.call_soon_threadsafe(self._service.stop)
        super().handle_exit(sig, frame)


def _token(workspace: Workspace, settings: QueueSettings) -> str | None:
    """The workspace token; created (0600) if `init` left none, so a required token always exists."""
    token = read_token(workspace)
    if token is None and settings.require_token:
        token = secrets.token_urlsafe(32)
        atomic.write_text(workspace.token_file, token + "\n", 0o600)
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
        raise QueueError(f"cannot listen on {_url_host(host)}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _configure_logging() -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
