"""`autonomic export systemd | launchd | compose DIR`: real files, checked by the engines' own tools
where this machine has them (systemd-analyze verify), by a schema otherwise (Compose)."""

from __future__ import annotations

import getpass
import os
import plistlib
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from autonomic import config
from autonomic.platform.systemd import exec_start
from autonomic.workspace import Workspace
from tests.helpers import run_cli

SERVICES = """
[services.web]
command = ["python3", "-m", "http.server", "9000"]
after = ["queue"]
restart = "on-failure"
env = { LOG_LEVEL = "info", TRICKY = "a \\"b\\" 100% $HOME \\\\ end" }
health = { http = "http://127.0.0.1:9000/", interval = "5s" }

[services.once]
command = "sh -c 'echo hi'"
restart = "never"
autostart = false
"""

# The part of the Compose specification these files use; every service key is checked by name.
DURATION = {"type": "string", "pattern": r"^\d+(\.\d+)?(ms|s|m|h)$"}
STRINGS = {"type": "array", "items": {"type": "string"}}
COMPOSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["services"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$"},
        "services": {
            "type": "object",
            "patternProperties": {
                "^[a-zA-Z0-9._-]+$": {
                    "type": "object",
                    "required": ["image", "command"],
                    "additionalProperties": False,
                    "properties": {
                        "image": {"type": "string"},
                        "command": STRINGS,
                        "working_dir": {"type": "string"},
                        "volumes": STRINGS,
                        "network_mode": {"type": "string"},
                        "env_file": STRINGS,
                        "environment": {"type": "object", "additionalProperties": {"type": "string"}},
                        "restart": {"enum": ["no", "always", "on-failure", "unless-stopped"]},
                        "stop_signal": {"type": "string"},
                        "stop_grace_period": DURATION,
                        "profiles": STRINGS,
                        "depends_on": {
                            "type": "object",
                            "additionalProperties": {
                                "type": "object",
                                "required": ["condition"],
                                "additionalProperties": False,
                                "properties": {
                                    "condition": {
                                        "enum": [
                                            "service_started",
                                            "service_healthy",
                                            "service_completed_successfully",
                                        ]
                                    }
                                },
                            },
                        },
                        "healthcheck": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["test"],
                            "properties": {
                                "test": {"type": "array", "items": {"type": "string"}, "minItems": 2},
                                "interval": DURATION,
                                "timeout": DURATION,
                                "retries": {"type": "integer", "minimum": 1},
                            },
                        },
                    },
                }
            },
            "additionalProperties": False,
        },
    },
}


@pytest.fixture
def workspace(tmp_workspace: Path) -> Workspace:
    assert run_cli("init", cwd=tmp_workspace).returncode == 0
    with (tmp_workspace / "autonomic.toml").open("a", encoding="utf-8") as toml:
        toml.write(SERVICES)
    return Workspace.at(tmp_workspace)


def export(workspace: Workspace, engine: str, dest: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli("export", engine, str(dest), *extra, cwd=workspace.root)


def plan_argv(workspace: Workspace) -> dict[str, list[str]]:
    return {s.name: s.argv for s in config.plan(config.load(workspace), workspace).services}


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("user", [None, getpass.getuser()])
def test_systemd_units_pass_systemd_analyze_verify(
    workspace: Workspace, tmp_path: Path, user: str | None
) -> None:
    dest = tmp_path / "units"
    done = export(workspace, "systemd", dest, *(["--user", user] if user else []))
    assert done.returncode == 0, done.stderr
    units = sorted(str(p) for p in dest.iterdir() if p.suffix in (".service", ".target"))
    assert len(units) == 7  # queue, worker, watchdog, monitor, web, once + the target
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    mode = [] if user else ["--user"]
    verified = subprocess.run(
        ["systemd-analyze", "verify", *mode, *units],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
    )
    assert verified.returncode == 0 and not verified.stderr.strip(), verified.stderr
    name = f"autonomic-{workspace.root.name}"
    web = (dest / f"{name}-web.service").read_text()
    argv = plan_argv(workspace)["web"]
    assert exec_start(web) == [shutil.which("python3"), *argv[1:]]  # quoted as the boot unit is
    assert "Restart=on-failure" in web and f"After={name}-queue.service" in web
    assert 'Environment="TRICKY=a \\"b\\" 100%% $HOME \\\\ end"' in web
    assert f"EnvironmentFile=-{workspace.root / '.env'}" in web
    target = (dest / f"{name}.target").read_text()
    assert f"{name}-web.service" in target and f"{name}-once.service" not in target  # autostart = false
    assert (f"User={user}" in web) == (user is not None)


def test_launchd_agents_are_plists_that_keep_services_alive(workspace: Workspace, tmp_path: Path) -> None:
    dest = tmp_path / "agents"
    assert export(workspace, "launchd", dest).returncode == 0
    plists = {p.name: plistlib.loads(p.read_bytes()) for p in dest.glob("*.plist")}
    name = f"autonomic-{workspace.root.name}"
    web = plists[f"io.autonomic.{name}.web.plist"]
    assert web["Label"] == f"io.autonomic.{name}.web" and web["KeepAlive"] == {"SuccessfulExit": False}
    assert web["ProgramArguments"][0] == shutil.which("python3")
    assert web["EnvironmentVariables"]["TRICKY"] == 'a "b" 100% $HOME \\ end'
    assert web["StandardOutPath"] == str(workspace.root / "logs" / "web.log")
    queue = plists[f"io.autonomic.{name}.queue.plist"]
    assert queue["KeepAlive"] is True and queue["ProgramArguments"] == plan_argv(workspace)["queue"]
    once = plists[f"io.autonomic.{name}.once.plist"]
    assert once["KeepAlive"] is False and once["RunAtLoad"] is False
    assert ".env values are NOT in the plists" in (dest / "README.txt").read_text()


def test_the_compose_file_passes_the_schema(workspace: Workspace, tmp_path: Path) -> None:
    dest = tmp_path / "compose"
    assert export(workspace, "compose", dest, "--image", "registry.local/app:1").returncode == 0
    document = yaml.safe_load((dest / "compose.yaml").read_text())
    jsonschema.validate(document, COMPOSE_SCHEMA)
    services = document["services"]
    assert set(services) == {"queue", "worker", "watchdog", "monitor", "web", "once"}
    web = services["web"]
    assert web["image"] == "registry.local/app:1" and web["network_mode"] == "host"
    assert web["environment"]["TRICKY"] == 'a "b" 100% $$HOME \\ end'  # $$: no interpolation
    assert web["depends_on"] == {"queue": {"condition": "service_healthy"}}
    assert web["restart"] == "on-failure" and services["once"]["profiles"] == ["manual"]
    assert services["queue"]["command"] == ["python", *plan_argv(workspace)["queue"][1:]]
    assert services["worker"]["healthcheck"]["test"][-2].endswith("worker.heartbeat")
    compose = shutil.which("docker-compose")
    if compose is not None:  # the engine's own check where it is installed
        checked = subprocess.run(
            [compose, "-f", str(dest / "compose.yaml"), "config", "-q"], capture_output=True
        )
        assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["bogus"], "unknown engine 'bogus'"),
        (["compose", "--user", "x"], "--user applies to systemd only"),
        (["systemd", "--image", "x"], "--image applies to compose only"),
        (["systemd", "--name", "Bad Name"], "--name 'Bad Name'"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    workspace: Workspace, tmp_path: Path, args: list[str], says: str
) -> None:
    dest = tmp_path / "out"
    done = run_cli("export", args[0], str(dest), *args[1:], cwd=workspace.root)
    assert done.returncode == 2 and says in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not dest.exists()


def test_a_file_in_the_way_is_refused(workspace: Workspace, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("keep")
    done = export(workspace, "systemd", blocker)
    assert done.returncode == 2 and "is not a folder" in done.stderr and blocker.read_text() == "keep"
