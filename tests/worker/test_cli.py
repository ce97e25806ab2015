"""`autonomic worker` on the command line: clear one-line errors, remote options, plugins."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import run_cli
from tests.worker.conftest import Stack, write_config

PLUGIN = """
def shout(ctx):
    return {"text": str(ctx.data.get("text", "")).upper(), "attempts": ctx.attempts}
"""


def _one_line_error(result: object, code: int, fragment: str) -> None:
    stderr = result.stderr.strip()  # type: ignore[attr-defined]
    assert result.returncode == code, (result.returncode, stderr)  # type: ignore[attr-defined]
    assert len(stderr.splitlines()) == 1 and "Traceback" not in stderr and fragment in stderr, stderr


def test_user_errors_are_one_line(stack: Stack, tmp_path: Path) -> None:
    _one_line_error(run_cli("worker", "--workspace", str(tmp_path / "nowhere")), 2, "no autonomic.toml")
    root = stack.workspace()
    _one_line_error(run_cli("worker", "--workspace", str(root), "--types", "fax"), 2, "cannot claim 'fax'")
    _one_line_error(
        run_cli("worker", "--workspace", str(root), "--types", "shell"), 2, "needs 'shell' in [worker].allow"
    )
    _one_line_error(
        run_cli("worker", "--workspace", str(root), "--server", "ftp://host"), 2, "--server must be an http"
    )
    _one_line_error(run_cli("worker", "--workspace", str(root), "--concurrency", "0"), 2, "--concurrency")
    write_config(root, 8091, {"allow": ["teleport"]}, {})
    _one_line_error(run_cli("worker", "--workspace", str(root)), 2, "worker.allow")


def test_help_names_the_remote_options() -> None:
    result = run_cli("worker", "--help")
    assert result.returncode == 0
    for option in ("--workspace", "--server", "--token", "--concurrency", "--name", "--types"):
        assert option in result.stdout


def test_remote_server_and_token_from_the_command_line_and_a_plugin_handler(
    stack: Stack, tmp_path: Path
) -> None:
    """A worker with its own workspace (as on another host) joins a server given by URL, with the token
    from $AUTONOMIC_TOKEN, and runs a third-party handler installed as an `autonomic.handlers` entry point."""
    server_root = stack.workspace(name="server-host")
    server = stack.server(server_root)
    plugins = tmp_path / "plugins"
    info = plugins / "autonomic_shout-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: autonomic-shout\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[autonomic.handlers]\nshout = shout_plugin:shout\n")
    (plugins / "shout_plugin.py").write_text(PLUGIN)
    remote_root = stack.workspace(name="other-host")
    stack.worker(
        remote_root,
        "--server",
        server.url,
        "--types",
        "shout,ping",
        name="remote",
        env={"PYTHONPATH": str(plugins), "AUTONOMIC_TOKEN": server.token},
    )
    result = server.run("shout", {"text": "hello"})
    assert result["success"] and result["data"]["text"] == "HELLO" and result["worker"] == "remote", result
    assert server.run("ping")["data"]["worker"] == "remote"


def test_a_wrong_token_is_reported_once_and_retried(stack: Stack) -> None:
    root = stack.workspace()
    server = stack.server(root)
    worker = stack.worker(root, "--server", server.url, "--token", "wrong", wait_ready=False)
    from tests.helpers import wait_until

    wait_until(lambda: "refused us" in worker.output(), timeout=10, what="the refusal to be logged")
    assert worker.output().count("refused us") == 1 and worker.process.poll() is None
