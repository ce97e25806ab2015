"""`autonomic init` and the messages for a bad autonomic.toml, through the real command."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from autonomic import config
from autonomic.errors import ConfigError
from autonomic.workspace import Workspace
from tests.helpers import run_cli


def test_init_creates_the_layout_with_private_secrets_and_is_idempotent(tmp_path: Path) -> None:
    root = tmp_path / "project"
    first = run_cli("init", str(root))
    assert first.returncode == 0, first.stderr
    for name in ("autonomic.toml", ".env", "outputs", "logs", ".autonomic", ".autonomic/token", ".gitignore"):
        assert (root / name).exists(), name
    assert stat.S_IMODE((root / ".env").stat().st_mode) == 0o600
    assert stat.S_IMODE((root / ".autonomic/token").stat().st_mode) == 0o600
    assert ".env" in (root / ".gitignore").read_text().splitlines()
    config.load(Workspace.at(root))  # the template is valid as written

    (root / "autonomic.toml").write_text("[queue]\nport = 9999\n")
    (root / ".env").write_text("KEY=mine\n")
    token = (root / ".autonomic/token").read_text()
    second = run_cli("init", str(root))
    assert second.returncode == 0 and "nothing changed" in second.stdout
    assert (root / "autonomic.toml").read_text() == "[queue]\nport = 9999\n"
    assert (root / ".env").read_text() == "KEY=mine\n"
    assert (root / ".autonomic/token").read_text() == token


def test_init_keeps_a_users_gitignore_and_adds_only_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("node_modules/\n.env")
    assert run_cli("init", str(tmp_path)).returncode == 0
    lines = (tmp_path / ".gitignore").read_text().splitlines()
    assert lines[:2] == ["node_modules/", ".env"]
    assert lines.count(".env") == 1 and ".autonomic/" in lines


BAD_CONFIGS = [
    (
        "[services.web]\ncommand = 'x'\nafter = ['db']\n",
        "autonomic.toml: services.web.after: unknown service 'db'",
    ),
    ("[services.web]\ncommand = 'x'\ncolour = 'red'\n", "autonomic.toml: services.web.colour: unknown key"),
    ("[services.web]\ncwd = '.'\n", "autonomic.toml: services.web.command: required key is missing"),
    (
        "[services.web]\ncommand = 'x'\nstop_timeout = 'soon'\n",
        "services.web.stop_timeout: expected a duration",
    ),
    ("[services.web]\ncommand = 'x'\nrestart = 'sometimes'\n", "services.web.restart:"),
    (
        "[services.a]\ncommand = 'x'\nafter = ['b']\n[services.b]\ncommand = 'x'\nafter = ['a']\n",
        "dependency cycle",
    ),
    ("[services.web]\ncommand = 'x'\nhealth = { http = 'x', tcp = 'y:1' }\n", "exactly one of"),
    ("[services.web]\ncommand = 'x'\nhealth = { tcp = 'nohost' }\n", "tcp must be 'host:port'"),
    ("[queue]\nbind = '0.0.0.0'\nrequire_token = false\n", "only allowed with a loopback bind"),
    ("[queue]\nport = 70000\n", "autonomic.toml: queue.port:"),
    ("[services.queue]\ncommand = 'x'\n", "is a built-in service"),
    ("[services\nbroken", "autonomic.toml: not valid TOML"),
    ("[services.web]\ncommand = []\n", "command must not be empty"),
    ("[mystery]\nx = 1\n", "autonomic.toml: mystery: unknown key"),
    # zero or absurd durations: nothing the config accepts may make the orchestrator spin (issue 8)
    (
        "[services.web]\ncommand = 'x'\nhealth = { tcp = 'h:1', interval = '0s' }\n",
        "health.interval: Input should be greater than 0",
    ),
    (
        "[services.web]\ncommand = 'x'\nhealth = { tcp = 'h:1', timeout = 0 }\n",
        "health.timeout: Input should be greater than 0",
    ),
    (
        "[services.web]\ncommand = 'x'\nhealth = { tcp = 'h:1', interval = '400d' }\n",
        "health.interval: Input should be less",
    ),
    (
        "[services.web]\ncommand = 'x'\nbackoff = { initial = 0 }\n",
        "backoff.initial: Input should be greater than or equal to 0.1",
    ),
    ("[services.web]\ncommand = 'x'\nbackoff = { reset_after = '0s' }\n", "backoff.reset_after:"),
    ("[services.web]\ncommand = 'x'\nbackoff = { cooldown = 0 }\n", "backoff.cooldown:"),
    ("[services.web]\ncommand = 'x'\nbackoff = { max_failures = 0 }\n", "backoff.max_failures:"),
    ("[services.web]\ncommand = 'x'\nstop_timeout = 0\n", "stop_timeout: Input should be greater than 0"),
    (
        "[services.web]\ncommand = 'x'\nready_timeout = '0ms'\n",
        "ready_timeout: Input should be greater than 0",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD_CONFIGS)
def test_a_bad_config_gets_one_line_naming_file_key_and_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    assert run_cli("init", str(tmp_path)).returncode == 0
    (tmp_path / "autonomic.toml").write_text(text)
    result = run_cli("up", "-w", str(tmp_path))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / ".autonomic" / "control.json").exists()  # nothing was started


def test_not_a_workspace_and_bad_arguments_are_one_line_errors(tmp_path: Path) -> None:
    result = run_cli("status", "-w", str(tmp_path))
    assert (
        result.returncode == 2 and "no autonomic.toml" in result.stderr and "Traceback" not in result.stderr
    )
    bad_flag = run_cli("up", "--timeout", "soon", "-w", str(tmp_path))
    assert bad_flag.returncode == 2 and "Traceback" not in bad_flag.stderr


def test_durations_sizes_and_command_strings_are_parsed() -> None:
    parsed = config.parse(
        {
            "services": {
                "web": {
                    "command": "python -m http.server 8000",
                    "stop_timeout": "1m",
                    "health": {"tcp": "127.0.0.1:8000"},
                }
            },
            "logs": {"max_size": "1MiB"},
        }
    )
    plan = config.plan(parsed, Workspace.at("/tmp/x"))
    web = plan.service("web")
    assert web is not None and web.argv == ["python", "-m", "http.server", "8000"] and web.stop_timeout == 60
    assert plan.log_max_bytes == 1024 * 1024
    with pytest.raises(ConfigError):
        config.parse({"logs": {"max_size": "lots"}})
