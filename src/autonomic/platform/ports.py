"""Who listens on a TCP port: so that a service whose port is held by someone else is reported as such
("port 18091 is held by pid N (python3 …)") instead of being taken for healthy because the other
process answers its probe. The task queue server can ask the same before it binds."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable

import psutil

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0", "::", ""})


def listens(pids: Iterable[int], port: int) -> bool:
    """True if one of `pids` has a listening TCP socket on `port` (cheap: only these processes' sockets)."""
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            for conn in psutil.Process(pid).net_connections(kind="tcp"):
                if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                    return True
    return False


def holder(port: int) -> int | None:
    """The pid listening on `port`, when this user may see it; None when nobody (visible) listens."""
    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.Error, OSError):
        return None
    for conn in connections:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
            return int(conn.pid)
    return None


def in_use(host: str, port: int) -> bool:
    """True if binding `host:port` now would fail with "address already in use"."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        if os.name == "posix":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def describe_holder(port: int) -> str:
    """ "port P is held by pid N (cmd …)", or by "another process" when it cannot be seen."""
    pid = holder(port)
    if pid is None:
        return f"port {port} is held by another process"
    try:
        argv = psutil.Process(pid).cmdline()
    except psutil.Error:
        return f"port {port} is held by pid {pid}"
    shown = " ".join([os.path.basename(argv[0]), *argv[1:]]) if argv else "?"
    shown = shown if len(shown) <= 60 else shown[:59] + "…"
    return f"port {port} is held by pid {pid} ({shown})"
