"""LISTEN/NOTIFY between the queue servers that share one database.

A transaction that makes tasks claimable, stores results or grants a lease sends a notice on the
schema's channel (delivered at its commit, to every listening server). Each server keeps one
connection of its own listening, on a thread, and passes what the *others* did to its service: wake
long polls (`ready`), wake result readers (`result`), plan the lease timer (`lease`). A lost listening
connection is re-opened with back-off; on reconnecting, everything is woken once, since notices sent
meanwhile are lost.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import psycopg

log = logging.getLogger("autonomic.queue.store")

READY, RESULTS, LEASE = "r", "d", "l"
PAYLOAD_MAX = 7000  # PostgreSQL's limit is 8000 bytes


def channel(schema: str) -> str:
    return f"autonomic_{schema}"


def payloads(origin: str, ready: bool, results: Sequence[str], lease: float | None) -> list[str]:
    """The notices one transaction sends: `<origin> <kind> [args]`, results split to fit the limit."""
    out = [f"{origin} {READY}"] if ready else []
    if lease is not None:
        out.append(f"{origin} {LEASE} {lease!r}")
    chunk: list[str] = []
    size = 0
    for task_id in results:
        if size + len(task_id) + 1 > PAYLOAD_MAX and chunk:
            out.append(f"{origin} {RESULTS} {' '.join(chunk)}")
            chunk, size = [], 0
        chunk.append(task_id)
        size += len(task_id) + 1
    if chunk:
        out.append(f"{origin} {RESULTS} {' '.join(chunk)}")
    return out


@dataclass(frozen=True)
class Handlers:
    """What the service does when another server changed something. Called on the listener thread."""

    ready: Callable[[], None]
    result: Callable[[str], None]
    lease: Callable[[float], None]


class Listener:
    """One thread with one connection, LISTENing until `close`."""

    def __init__(self, conninfo: str, schema: str, origin: str, handlers: Handlers, shown: str) -> None:
        self._conninfo = conninfo
        self._channel = channel(schema)
        self._origin = origin
        self._handlers = handlers
        self._shown = shown  # the redacted URL, for messages
        self._stop = threading.Event()
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._thread = threading.Thread(target=self._run, name="queue-store-listener", daemon=True)
        self.connected = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        delay = 0.1
        first = True
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f'LISTEN "{self._channel}"'.encode())
                    self.connected.set()
                    if not first:
                        log.info("listening on %s again", self._shown)
                        self._wake_all()
                    first, delay = False, 0.1
                    while not self._stop.is_set():
                        for notice in conn.notifies(timeout=0.5):
                            self._dispatch(notice.payload)
            except psycopg.Error as exc:
                self.connected.clear()
                if self._stop.is_set():
                    return
                log.warning(
                    "queue store %s: listening connection lost (%s); retrying",
                    self._shown,
                    " ".join(str(exc).split()),
                )
                self._stop.wait(delay)
                delay = min(delay * 2, 5.0)

    def _dispatch(self, payload: str) -> None:
        origin, _, rest = payload.partition(" ")
        if origin == self._origin:
            return  # our own: the service already acted on it
        kind, _, args = rest.partition(" ")
        with contextlib.suppress(Exception):  # a closing event loop must not kill the listener
            if kind == READY:
                self._handlers.ready()
            elif kind == RESULTS:
                for task_id in args.split():
                    self._handlers.result(task_id)
            elif kind == LEASE:
                self._handlers.lease(float(args))

    def _wake_all(self) -> None:
        with contextlib.suppress(Exception):
            self._handlers.ready()
            self._handlers.lease(0.0)
