"""The daemon as a process: it samples without an orchestrator or a queue, keeps sampling when its
dashboard port is taken, and stops promptly on SIGTERM. The CLI verbs around it."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

from autonomic import scaffold
from autonomic.monitor.notify import DesktopNotifier, command_for
from autonomic.workspace import Workspace
from tests.helpers import free_port, run_cli, wait_until


def _workspace(root: Path, port: int) -> Workspace:
    workspace = Workspace.at(root)
    scaffold.init(workspace)
    workspace.config_file.write_text(
        "[queue]\nenabled = false\n[worker]\nenabled = false\n[watchdog]\nenabled = false\n"
        f'[monitor]\nport = {port}\ninterval = "1s"\nreport_every = "1s"\n'
    )
    return workspace


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_a_busy_dashboard_port_does_not_stop_the_sampling(tmp_workspace: Path, pids: list[int]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        workspace = _workspace(tmp_workspace, taken.getsockname()[1])
        daemon = subprocess.Popen(
            [sys.executable, "-m", "autonomic.monitor", "--workspace", str(tmp_workspace)],
            stderr=subprocess.PIPE,
            text=True,
        )
        pids.append(daemon.pid)
        wait_until(
            lambda: _lines(workspace.metrics_file) >= 3, timeout=30, interval=0.2, what="three samples"
        )
        assert (workspace.outputs / "monitoring_report_latest.md").exists()
        assert workspace.heartbeat_file("monitor").exists()
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=15) == 0
        assert daemon.stderr is not None
        assert "cannot listen" in daemon.stderr.read()
    sample = json.loads(workspace.metrics_file.read_text().splitlines()[-1])
    assert sample["orchestrator"]["reachable"] is False and sample["queue"]["error"] == "disabled"


def test_report_writes_the_four_files(tmp_workspace: Path) -> None:
    _workspace(tmp_workspace, free_port())
    result = run_cli("report", "-w", str(tmp_workspace))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("wrote ") == 4
    as_json = run_cli("report", "--json", "-w", str(tmp_workspace))
    assert json.loads(as_json.stdout)["schema"] == "autonomic.realtime_summary/1"


def test_dashboard_without_a_running_monitor_is_one_clear_line(tmp_workspace: Path) -> None:
    _workspace(tmp_workspace, free_port())
    result = run_cli("dashboard", "--no-open", "-w", str(tmp_workspace))
    assert result.returncode == 3
    assert result.stderr.strip().count("\n") == 0 and "not answering" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_monitor_setting_is_one_line_naming_the_key(tmp_workspace: Path) -> None:
    workspace = _workspace(tmp_workspace, free_port())
    workspace.config_file.write_text('[monitor]\ninterval = "0s"\n')
    result = run_cli("report", "-w", str(tmp_workspace))
    assert result.returncode == 2 and "monitor.interval" in result.stderr and "Traceback" not in result.stderr


def test_desktop_notifications_per_platform() -> None:
    mac = command_for("autonomic: critical", 'web is "fatal"', "darwin")
    assert mac is not None and mac[0] == "osascript" and '\\"fatal\\"' in mac[2]
    windows = command_for("t", "it's down", "win32")
    assert windows is not None and windows[0] == "powershell" and "it''s down" in windows[-1]
    seen: list[list[str]] = []
    DesktopNotifier(spawner=lambda argv: seen.append(list(argv)), platform="darwin")("title", "body")
    assert seen and seen[0][0] == "osascript"
