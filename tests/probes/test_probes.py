"""Each probe against the real thing: servers on 127.0.0.1, files, commands."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest

from autonomic import probes
from autonomic.probes.command import CommandProbe
from autonomic.probes.heartbeat import HeartbeatProbe
from autonomic.probes.http import HttpProbe
from autonomic.probes.process import ProcessProbe
from autonomic.probes.tcp import TcpProbe
from autonomic.supervisor.spec import ProbeKind, ProbeSpec
from tests.helpers import free_port

T = TypeVar("T")


@pytest.fixture
def http_server() -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/slow":
                time.sleep(1.0)
            self.send_response({"/health": 200, "/missing": 404, "/boom": 503}.get(self.path, 200))
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def test_http_probe_checks_the_status_range(http_server: int) -> None:
    base = f"http://127.0.0.1:{http_server}"
    assert run(HttpProbe(f"{base}/health").check()).ok
    assert not run(HttpProbe(f"{base}/missing").check()).ok
    result = run(HttpProbe(f"{base}/boom").check())
    assert not result.ok and "503" in result.detail
    assert run(HttpProbe(f"{base}/missing", status_min=404, status_max=404).check()).ok


def test_http_probe_times_out_and_reports_refused(http_server: int) -> None:
    slow = run(HttpProbe(f"http://127.0.0.1:{http_server}/slow", timeout=0.2).check())
    assert not slow.ok and "timed out" in slow.detail
    refused = run(HttpProbe(f"http://127.0.0.1:{free_port()}/").check())
    assert not refused.ok and "refused" in refused.detail


def test_http_probe_rejects_a_non_http_answer() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    def answer() -> None:
        conn, _ = listener.accept()
        conn.recv(1000)
        conn.sendall(b"SSH-2.0-OpenSSH\r\n")
        conn.close()

    threading.Thread(target=answer, daemon=True).start()
    result = run(HttpProbe(f"http://127.0.0.1:{port}/").check())
    listener.close()
    assert not result.ok and "not an HTTP response" in result.detail


def test_tcp_probe(http_server: int) -> None:
    assert run(TcpProbe("127.0.0.1", http_server).check()).ok
    assert not run(TcpProbe("127.0.0.1", free_port()).check()).ok


def test_heartbeat_probe_fresh_stale_missing_and_older_than_the_process(tmp_path: Path) -> None:
    beat = tmp_path / "beat"
    assert "missing" in run(HeartbeatProbe(str(beat)).check()).detail
    beat.touch()
    assert run(HeartbeatProbe(str(beat), max_age=5).check()).ok
    os.utime(beat, (time.time() - 100, time.time() - 100))
    assert not run(HeartbeatProbe(str(beat), max_age=5).check()).ok
    beat.touch()
    assert not run(HeartbeatProbe(str(beat), max_age=60).check(since=time.time() + 30)).ok


def test_command_probe_exit_code_and_timeout_kills_it(tmp_path: Path) -> None:
    assert run(CommandProbe([sys.executable, "-c", "pass"]).check()).ok
    assert not run(CommandProbe([sys.executable, "-c", "raise SystemExit(2)"]).check()).ok
    marker = tmp_path / "pid"
    script = f"import os,time; open({str(marker)!r},'w').write(str(os.getpid())); time.sleep(30)"
    started = time.monotonic()
    result = run(CommandProbe([sys.executable, "-c", script], timeout=0.5).check())
    assert not result.ok and "timed out" in result.detail
    assert time.monotonic() - started < 5
    pid = int(marker.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert "No such file" in run(CommandProbe(["/nonexistent/check"]).check()).detail


def test_process_probe_and_the_factory() -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        assert run(ProcessProbe().check(sleeper.pid)).ok
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not run(ProcessProbe().check(sleeper.pid)).ok
    assert isinstance(probes.build(None), ProcessProbe)
    assert isinstance(probes.build(ProbeSpec(ProbeKind.TCP, "127.0.0.1:1")), TcpProbe)
