"""Real git repositories for the upgrade tests: a bare "remote", a developer clone that commits and
pushes, and the workspace clone that pulls (with its own `.venv`, made without pip so it is quick)."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from autonomic.workspace import Workspace
from tests.helpers import kill_tree, run_cli, wait_until, workspace_pids

SERVICE_CODE = '''\
"""A test service: GET /health answers 200 and its version; `import` lines above can use a dependency."""
import os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
VERSION = "{version}"
{extra}
class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{{VERSION}} {{os.getpid()}} {{EXTRA}}".encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
'''


def service_code(version: str, extra: str = "EXTRA = ''") -> str:
    return SERVICE_CODE.format(version=version, extra=extra)


def build_wheel(folder: Path, name: str, version: str, value: str) -> Path:
    """A pure-Python wheel `name==version` whose module has `VALUE = value`, built here (no network)."""
    folder.mkdir(parents=True, exist_ok=True)
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VALUE = {value!r}\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


class Project:
    def __init__(self, tmp_path: Path, ws_root: Path) -> None:
        self.remote = tmp_path / "remote.git"
        self.dev = tmp_path / "dev"
        self.ws = ws_root
        self.wheels = tmp_path / "wheels"
        self.workspace = Workspace.at(ws_root)
        git(tmp_path, "init", "-q", "--bare", "-b", "main", str(self.remote))
        git(tmp_path, "clone", "-q", str(self.remote), str(self.dev))

    # --- the developer side ------------------------------------------------------------------------
    def commit(self, files: Mapping[str, str | None], message: str = "change") -> str:
        """Write (or, for None, delete) files in the developer clone, commit and push; the new sha."""
        for rel, text in files.items():
            path = self.dev / rel
            if text is None:
                path.unlink()
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git(self.dev, "add", "-A")
        git(self.dev, "commit", "-q", "-m", message)
        git(self.dev, "push", "-q", "origin", "HEAD:main")
        return git(self.dev, "rev-parse", "HEAD")

    def config(self, services: dict[str, dict[str, Any]], **upgrade: Any) -> str:
        lines = [
            "[queue]\nenabled = false",
            "[worker]\nenabled = false",
            "[monitor]\nenabled = false",
            "[watchdog]\nenabled = false",
            "[backup]\nschedule = false",
            "[upgrade]",
            'health_timeout = "20s"',
            'settle = "1s"',
            'interval = "1h"',
            f"pip_args = {json.dumps(['--no-index', '--find-links', str(self.wheels)])}",
            'npm_args = ["--offline"]',
            *(f"{k} = {json.dumps(v)}" for k, v in upgrade.items()),
        ]
        for name, table in services.items():
            lines.append(f"[services.{name}]")
            lines.extend(f"{key} = {_toml(value)}" for key, value in table.items())
        return "\n".join(lines) + "\n"

    def web(self, name: str, port: int, folder: str, **extra: Any) -> dict[str, Any]:
        return {
            "command": ["python", "app.py", str(port)],
            "cwd": folder,
            "health": {"http": f"http://127.0.0.1:{port}/health", "interval": "0.3s", "timeout": "1s"},
            "backoff": {"reset_after": "1s", "initial": "0.2s"},
            **extra,
        }

    # --- the workspace side ------------------------------------------------------------------------
    def clone_workspace(self, venv: bool = True) -> None:
        git(self.ws.parent, "clone", "-q", str(self.remote), str(self.ws))
        (self.ws / ".git" / "info" / "exclude").write_text(".venv/\n.autonomic/\noutputs/\nlogs/\n.env\n")
        if venv:
            subprocess.run(
                [sys.executable, "-m", "venv", "--without-pip", str(self.ws / ".venv")], check=True
            )

    def pull(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "pull", "-q", "--ff-only"], cwd=self.ws, capture_output=True, text=True, timeout=60
        )

    def head(self) -> str:
        return git(self.ws, "rev-parse", "HEAD")

    def cli(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, "-w", str(self.ws), timeout=timeout)

    def up(self) -> None:
        result = self.cli("up", "--timeout", "60", timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr

    def status(self) -> dict[str, dict[str, Any]]:
        result = self.cli("status", "--json")
        assert result.returncode == 0, result.stderr
        return {s["name"]: s for s in json.loads(result.stdout)["services"]}

    def events(self) -> list[dict[str, Any]]:
        path = self.workspace.upgrade_log
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def wait_job(self, name: str) -> None:
        """Until the orchestrator has finished one run of its job `name`."""

        def finished() -> bool:
            path = self.workspace.orchestrator_log
            lines = path.read_text().splitlines() if path.exists() else []
            return any(
                e["action"] == "job" and e["target"] == name and e["status"] in ("success", "failure")
                for e in map(json.loads, lines)
            )

        wait_until(finished, timeout=60, interval=0.2, what=f"the orchestrator's job {name}")

    def orchestrator_pid(self) -> int:
        return int(json.loads(self.workspace.control_file.read_text())["pid"])

    def state(self) -> dict[str, Any]:
        return dict(json.loads(self.workspace.upgrade_state.read_text()))

    def venv_python(self) -> Path:
        return self.ws / ".venv" / "bin" / "python"

    def installed(self, name: str) -> str | None:
        """The version of `name` in the workspace's venv, or None."""
        done = subprocess.run(
            [str(self.venv_python()), "-c", f"import importlib.metadata as m; print(m.version({name!r}))"],
            capture_output=True,
            text=True,
        )
        return done.stdout.strip() if done.returncode == 0 else None

    def wait_event(self, action: str, target: str, status: str, timeout: float = 60.0) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            return next(
                (
                    e
                    for e in self.events()
                    if (e["action"], e["target"], e["status"]) == (action, target, status)
                ),
                None,
            )

        found: dict[str, Any] = wait_until(
            find, timeout=timeout, interval=0.2, what=f"{action}/{target}/{status}"
        )
        return found


def _toml(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    for key, value in {
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.invalid",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(tmp_path / "gitconfig"),
    }.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "gitconfig").write_text("[init]\n\tdefaultBranch = main\n[pull]\n\tff = only\n")
    root = tmp_path / "ws"
    made = Project(tmp_path, root)
    yield made
    if root.exists():
        run_cli("down", "-w", str(root), timeout=60)
    kill_tree(workspace_pids(root))
