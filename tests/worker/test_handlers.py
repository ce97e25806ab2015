"""Built-in handlers run in-process, with the original's result shapes (ORIGIN_API.md)."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.worker.support import run


def failure_shape(outcome: object) -> None:
    assert outcome.success is False  # type: ignore[attr-defined]
    assert outcome.data.keys() == {"execution_time"}  # type: ignore[attr-defined]
    assert isinstance(outcome.error, str) and outcome.error  # type: ignore[attr-defined]


def test_ping_and_health_check(tmp_path: Path) -> None:
    pong = run(tmp_path, "ping")
    assert pong.success and pong.data["message"] == "pong" and pong.data["worker"] == "tester"
    assert {"timestamp", "execution_time"} <= pong.data.keys()
    health = run(tmp_path, "health_check", allow=["http"])
    assert health.data["status"] == "healthy" and "http" in health.data["capabilities"]
    assert "shell" not in health.data["capabilities"] and health.data["allow"] == ["http"]


def test_wait_and_its_failure_shape(tmp_path: Path) -> None:
    waited = run(tmp_path, "wait", {"seconds": 0.2})
    assert waited.success and waited.data["slept"] == 0.2 and waited.data["execution_time"] >= 0.2
    failure_shape(run(tmp_path, "wait", {"seconds": -1}))
    failure_shape(run(tmp_path, "wait", {"seconds": "soon"}))


def test_rpa_rejects_unknown_actions_and_bad_params(tmp_path: Path) -> None:
    unknown = run(tmp_path, "rpa", {"action": "dance", "params": {}})
    failure_shape(unknown)
    assert "unknown action 'dance'" in str(unknown.error)
    failure_shape(run(tmp_path, "rpa_command", {"action": "wait", "params": [1]}))


@pytest.mark.parametrize("action", ["click", "type", "hotkey"])
def test_desktop_input_is_off_until_allowed(tmp_path: Path, action: str) -> None:
    outcome = run(tmp_path, "rpa", {"action": action, "params": {"x": 1, "y": 1, "text": "x", "keys": ["a"]}})
    failure_shape(outcome)
    assert "add 'desktop-input' to [worker].allow" in str(outcome.error)


def test_open_browser_refuses_other_schemes_unless_allowed(tmp_path: Path) -> None:
    outcome = run(tmp_path, "open_browser", {"url": "file:///etc/passwd"})
    failure_shape(outcome)
    assert "not http(s)" in str(outcome.error)


def test_retry_on_fail_retries_the_action(tmp_path: Path) -> None:
    started = time.monotonic()
    outcome = run(
        tmp_path,
        "rpa",
        {
            "action": "ocr",
            "params": {"source": "outputs/missing.png"},
            "retry_on_fail": True,
            "max_retries": 2,
        },
    )
    failure_shape(outcome)
    assert "no such file" in str(outcome.error) and time.monotonic() - started >= 1.0


def test_screen_tasks_say_when_there_is_no_display(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    for type_ in ("screenshot", "ocr", "benchmark_test"):
        outcome = run(tmp_path, type_)
        failure_shape(outcome)
        assert "no X display" in str(outcome.error)


def test_screenshot_paths_cannot_escape_outputs(tmp_path: Path) -> None:
    for path in ("../escape.png", "/etc/escape.png", "outputs/../../escape.png"):
        outcome = run(tmp_path, "screenshot", {"save_path": path})
        failure_shape(outcome)
    assert not (tmp_path.parent / "escape.png").exists()


def test_ocr_refuses_an_odd_engine_or_language(tmp_path: Path) -> None:
    from PIL import Image

    assert "engine 'easyocr' is not available" in str(run(tmp_path, "ocr", {"engine": "easyocr"}).error)
    (tmp_path / "outputs" / "broken.png").write_bytes(b"not an image")
    assert "not a readable image" in str(run(tmp_path, "ocr", {"source": "broken.png"}).error)
    Image.new("RGB", (40, 20), "white").save(tmp_path / "outputs" / "a.png")
    odd = run(tmp_path, "ocr", {"source": "a.png", "lang": "eng;rm -rf"})
    failure_shape(odd)
    assert "is not a Tesseract language list" in str(odd.error)


# --- http -----------------------------------------------------------------------------------------


class _Api(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/json"):
            self._send(200, b'{"hello": "world"}', "application/json")
        else:
            self._send(404, b"nope", "text/plain")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._send(
            201,
            json.dumps({"got": body.decode(), "auth": self.headers.get("X-Key")}).encode(),
            "application/json",
        )

    def _send(self, code: int, body: bytes, kind: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def api_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_requests(tmp_path: Path, api_url: str) -> None:
    got = run(tmp_path, "http", {"url": f"{api_url}/json"}, allow=["http"])
    assert got.success and got.data["status"] == 200 and got.data["json"] == {"hello": "world"}
    posted = run(
        tmp_path,
        "http",
        {"url": f"{api_url}/x", "method": "POST", "json": {"a": 1}, "headers": {"X-Key": "k"}},
        allow=["http"],
    )
    assert posted.data["status"] == 201 and posted.data["json"] == {"got": '{"a":1}', "auth": "k"}
    missing = run(tmp_path, "http", {"url": f"{api_url}/missing"}, allow=["http"])
    assert (
        not missing.success and (missing.error or "").endswith("HTTP 404") and missing.data["status"] == 404
    )
    tolerated = run(
        tmp_path, "http", {"url": f"{api_url}/missing", "raise_for_status": False}, allow=["http"]
    )
    assert tolerated.success and tolerated.data["body"] == "nope"
    failure_shape(run(tmp_path, "http", {"url": "file:///etc/passwd"}, allow=["http"]))
    closed = run(tmp_path, "http", {"url": "http://127.0.0.1:9/", "timeout": 2}, allow=["http"])
    failure_shape(closed)


# --- python ---------------------------------------------------------------------------------------

MODULE = """
import asyncio

def add(a, b, scale=1):
    return (a + b) * scale

def info(**kwargs):
    return {"kwargs": kwargs}

async def later(value):
    await asyncio.sleep(0.01)
    return {"value": value}

def _secret():
    return "no"
"""


def test_python_calls_listed_modules_only(tmp_path: Path) -> None:
    name = f"jobs_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(MODULE)
    allowed: dict[str, Any] = {"allow": ["python"], "python_modules": [name]}
    try:
        summed = run(
            tmp_path, "python", {"function": f"{name}:add", "args": [2, 3], "kwargs": {"scale": 2}}, **allowed
        )
        assert summed.success and summed.data["result"] == 10
        assert run(tmp_path, "python", {"function": f"{name}:info", "kwargs": {"k": 1}}, **allowed).data[
            "kwargs"
        ] == {"k": 1}
        assert (
            run(tmp_path, "python", {"function": f"{name}:later", "args": ["v"]}, **allowed).data["value"]
            == "v"
        )
        private = run(tmp_path, "python", {"function": f"{name}:_secret"}, **allowed)
        assert "private" in str(private.error)
        unlisted = run(tmp_path, "python", {"function": "os:getcwd"}, **allowed)
        failure_shape(unlisted)
        assert "not listed in [worker].python_modules" in str(unlisted.error)
        failure_shape(run(tmp_path, "python", {"function": "not a target"}, **allowed))
    finally:
        sys.modules.pop(name, None)


def test_python_module_patterns() -> None:
    from autonomic.worker.handlers.python import module_allowed

    assert module_allowed("pkg.jobs", ["pkg.*"]) and module_allowed("pkg", ["pkg.*"])
    assert not module_allowed("pkgx.jobs", ["pkg.*"]) and not module_allowed("pkg.jobs", ["pkg"])


# --- shell ----------------------------------------------------------------------------------------


def test_shell_runs_only_allowed_commands_without_a_shell(tmp_path: Path) -> None:
    allowed: dict[str, Any] = {"allow": ["shell"], "shell_commands": ["echo *", "false", "sleep *"]}
    echoed = run(tmp_path, "shell", {"command": "echo hello; rm -rf /"}, **allowed)
    assert echoed.success and echoed.data["stdout"] == "hello; rm -rf /\n" and echoed.data["exit_code"] == 0
    refused = run(tmp_path, "shell", {"command": ["ls", "/"]}, **allowed)
    failure_shape(refused)
    assert "not allowed by [worker].shell_commands" in str(refused.error)
    failed = run(tmp_path, "shell", {"command": "false"}, **allowed)
    assert not failed.success and failed.error == "exit code 1" and failed.data["exit_code"] == 1
    escaped = run(tmp_path, "shell", {"command": "echo x", "cwd": "../.."}, **allowed)
    assert "inside the workspace" in str(escaped.error)


def test_shell_timeout_kills_the_command(tmp_path: Path) -> None:
    outcome = run(
        tmp_path, "shell", {"command": "sleep 37.5"}, timeout=0.5, allow=["shell"], shell_commands=["sleep *"]
    )
    assert outcome.error == "timed out after 0.5s"
    time.sleep(0.2)
    sleeping = [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "37.5"]]
    assert not sleeping


def test_gated_types_are_not_registered_without_their_capability(tmp_path: Path) -> None:
    from autonomic.worker.registry import Registry
    from autonomic.worker.settings import WorkerSettings

    default = Registry.build(WorkerSettings(), extra=[])
    assert {"browser", "http", "python", "shell"}.isdisjoint(default.types)
    assert {
        "ping",
        "health_check",
        "wait",
        "rpa",
        "rpa_command",
        "screenshot",
        "ocr",
        "open_browser",
        "benchmark_test",
    } <= set(default.types)
    assert default.skipped["shell"] == "needs 'shell' in [worker].allow"
