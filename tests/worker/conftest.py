"""Fixtures for the worker's tests: real queue servers, real worker processes, Xvfb, a Tk window."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from autonomic.api_token import read as read_token
from autonomic.scaffold import init
from autonomic.workspace import Workspace
from tests.helpers import PYTHON, alive, free_port, kill_tree, wait_until

HERE = Path(__file__).parent


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(value)


def write_config(root: Path, port: int, worker: dict[str, Any], queue: dict[str, Any]) -> None:
    lines = ["[queue]", f"port = {port}"]
    lines += [f"{k} = {toml_value(v)}" for k, v in queue.items()]
    lines += ["", "[worker]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in worker.items()]
    (root / "autonomic.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


# Fast lease recovery for tests: expired leases are reaped and handed out again within ~0.3 s.
FAST_QUEUE = {"reap_interval": "0.1s", "retry_delay": "0.1s", "retry_max_delay": "0.5s"}
FAST_WORKER = {"lease": "2s", "poll_wait": "5s", "drain_timeout": "5s"}


@dataclass
class Server:
    root: Path
    url: str
    token: str
    pid: int
    port: int

    def api(self) -> httpx.Client:
        """An httpx client speaking to the server as the original clients did (bearer token)."""
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=15)

    def create(self, type_: str, data: dict[str, Any] | None = None) -> str:
        """Enqueue with the original API: POST /api/tasks/create {type, data}."""
        with self.api() as api:
            response = api.post("/api/tasks/create", json={"type": type_, "data": data or {}})
            response.raise_for_status()
            return str(response.json()["task_id"])

    def result(self, task_id: str, timeout: float = 15.0) -> dict[str, Any]:
        """The stored result, read through the original GET /api/results/{task_id}, waiting for it."""
        with self.api() as api:

            def fetch() -> dict[str, Any] | None:
                response = api.get(f"/api/results/{task_id}")
                return response.json() if response.status_code == 200 else None

            found: dict[str, Any] = wait_until(fetch, timeout=timeout, what=f"result of {task_id}")
            return found

    def run(self, type_: str, data: dict[str, Any] | None = None, timeout: float = 15.0) -> dict[str, Any]:
        return self.result(self.create(type_, data), timeout)

    def task(self, task_id: str) -> dict[str, Any]:
        with self.api() as api:
            found: dict[str, Any] = api.get(f"/api/tasks/{task_id}").json()
            return found


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log: Path
    name: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@dataclass
class Stack:
    """Factories for one test: workspaces, servers and workers, all stopped by pid at teardown."""

    tmp: Path
    pids: list[int]
    env: dict[str, str] = field(default_factory=dict)
    counter: int = 0

    def workspace(
        self,
        worker: dict[str, Any] | None = None,
        queue: dict[str, Any] | None = None,
        port: int | None = None,
        name: str = "ws",
    ) -> Path:
        root = self.tmp / name
        init(Workspace.at(root))
        write_config(
            root, port or free_port(), {**FAST_WORKER, **(worker or {})}, {**FAST_QUEUE, **(queue or {})}
        )
        return root

    def server(self, root: Path, wait: bool = True) -> Server:
        port = int(
            next(
                line.split("=")[1]
                for line in (root / "autonomic.toml").read_text().splitlines()
                if line.startswith("port")
            )
        )
        log = (root / "logs" / "queue.log").open("ab")
        process = subprocess.Popen(
            server_argv(root), cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.pids.append(process.pid)
        server = Server(
            root, f"http://127.0.0.1:{port}", read_token(Workspace.at(root)) or "", process.pid, port
        )
        if wait:
            wait_until(
                lambda: _healthy(server.url) or not alive(process.pid), timeout=20, what="queue server"
            )
            assert alive(process.pid), (root / "logs" / "queue.log").read_text()
        return server

    def worker(
        self,
        root: Path,
        *args: str,
        name: str | None = None,
        env: dict[str, str] | None = None,
        wait_ready: bool = True,
    ) -> WorkerProcess:
        self.counter += 1
        name = name or f"w{self.counter}"
        log_path = root / "logs" / f"worker-{name}.log"
        log = log_path.open("ab")
        full_env = {**os.environ, "AUTONOMIC_LOG_LEVEL": "DEBUG", **self.env, **(env or {})}
        process = subprocess.Popen(
            [PYTHON, "-m", "autonomic", "worker", "--workspace", str(root), "--name", name, *args],
            cwd=root,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            start_new_session=True,
        )
        self.pids.append(process.pid)
        handle = WorkerProcess(process, log_path, name)
        if wait_ready:
            wait_until(
                lambda: "connected to the queue server" in handle.output() or process.poll() is not None,
                timeout=20,
                what=f"worker {name} to connect",
            )
            assert process.poll() is None, handle.output()
        return handle


def server_argv(root: Path) -> list[str]:
    return [PYTHON, "-m", "autonomic", "serve", "--workspace", str(root)]


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def stack(tmp_path: Path, pids: list[int]) -> Stack:
    return Stack(tmp_path, pids)


# --- a display ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Display:
    env: dict[str, str]
    pid: int


@pytest.fixture(scope="session")
def xvfb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Display]:
    """A private X server (Xvfb picks a free display number itself), killed by pid at the end."""
    binary = shutil.which("Xvfb")
    if binary is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb); desktop tests need an X display")
    folder = tmp_path_factory.mktemp("x11")
    auth = folder / "Xauthority"
    auth.touch()  # python-xlib wants an existing file; Xvfb runs without access control here
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen(
        [binary, "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=(folder / "xvfb.log").open("wb"),
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as reader:
            number = reader.readline().strip()
        assert number, (folder / "xvfb.log").read_text()
        yield Display({"DISPLAY": f":{number}", "XAUTHORITY": str(auth)}, process.pid)
    finally:
        kill_tree([process.pid])


@dataclass
class TkApp:
    """tk_app.py on the display: where its widgets are, and the files it writes when driven."""

    geometry: dict[str, Any]
    folder: Path

    def center(self, widget: str) -> tuple[int, int]:
        box = self.geometry[widget]
        return box["x"] + box["width"] // 2, box["y"] + box["height"] // 2

    @property
    def submitted(self) -> Path:
        return self.folder / "submitted.txt"

    @property
    def hotkey(self) -> Path:
        return self.folder / "hotkey.txt"


@pytest.fixture
def tk_app(xvfb: Display, tmp_path: Path, pids: list[int]) -> TkApp:
    """A real Tk window: an entry, a Submit button (writes the entry to a file), a big label, Ctrl+S."""
    try:
        import tkinter  # noqa: F401
    except ImportError:
        pytest.skip("this Python has no tkinter; the desktop tests drive a Tk window")
    folder = tmp_path / "tk"
    folder.mkdir()
    process = subprocess.Popen(
        [PYTHON, str(HERE / "tk_app.py"), str(folder)],
        env={**os.environ, **xvfb.env},
        stderr=(folder / "stderr.txt").open("wb"),
    )
    pids.append(process.pid)
    geometry_file = folder / "geometry.json"
    wait_until(lambda: geometry_file.exists() or process.poll() is not None, timeout=15, what="the Tk window")
    assert process.poll() is None, (folder / "stderr.txt").read_text()
    return TkApp(json.loads(geometry_file.read_text()), folder)


# --- a local web server ---------------------------------------------------------------------------


@pytest.fixture
def form_site(pids: list[int], tmp_path: Path) -> Iterator[str]:
    """http://127.0.0.1:PORT serving a form; POST /submit answers 'Thanks, NAME!' (form_site.py)."""
    port = free_port()
    process = subprocess.Popen(
        [PYTHON, str(HERE / "form_site.py"), str(port)], stderr=(tmp_path / "form_site.log").open("wb")
    )
    pids.append(process.pid)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(url, timeout=1).status_code == 200
        return False

    wait_until(up, timeout=10, what="the form site")
    yield url
    kill_tree([process.pid])


def wait_exit(process: subprocess.Popen[bytes], timeout: float) -> int:
    """The exit code, failing the test if it takes longer than `timeout` seconds."""
    started = time.monotonic()
    code = process.wait(timeout=timeout)
    assert time.monotonic() - started <= timeout
    return code


Factory = Callable[..., Any]
