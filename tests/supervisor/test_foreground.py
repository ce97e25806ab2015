"""`autonomic up --foreground`, the command an OS boot entry runs, and what the logs record."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess

from tests.helpers import PYTHON, alive, free_port, wait_until
from tests.supervisor.conftest import Stack, service_command

ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$")


def test_boot_path_after_a_reboot_ends_healthy_and_sigterm_stops_everything(
    stack: Stack, pids: list[int]
) -> None:
    port = free_port()
    stack.write(
        {
            "web": {
                "command": service_command("--port", str(port)),
                "health": {"http": f"http://127.0.0.1:{port}/health"},
            }
        }
    )
    stack.up()
    old_service = stack.service("web")["pid"]
    old_orchestrator = stack.orchestrator_pid()
    # a "reboot": everything killed, runtime files wiped
    for pid in (old_orchestrator, old_service):
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not alive(old_service) and not alive(old_orchestrator), timeout=5)
    shutil.rmtree(stack.workspace.state_dir)

    boot = subprocess.Popen(
        [PYTHON, "-m", "autonomic", "up", "--foreground", "-w", str(stack.root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    pids.append(boot.pid)
    wait_until(
        lambda: stack.workspace.control_file.exists() and stack.service("web")["state"] == "running",
        timeout=20,
        what="web running under the boot entry",
    )
    assert stack.orchestrator_pid() == boot.pid  # exec'd in place: the boot entry's pid is the orchestrator
    service_pid = stack.service("web")["pid"]
    boot.send_signal(signal.SIGTERM)
    assert boot.wait(timeout=20) == 0
    assert not alive(service_pid)
    assert not stack.workspace.control_file.exists()


def test_a_second_foreground_orchestrator_exits_at_once_leaving_the_first(stack: Stack) -> None:
    stack.write({"svc": {"command": service_command()}})
    stack.up()
    first = stack.orchestrator_pid()
    second = subprocess.run(
        [PYTHON, "-m", "autonomic", "up", "--foreground", "-w", str(stack.root)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert second.returncode == 0 and "another orchestrator" in second.stderr
    assert alive(first) and stack.orchestrator_pid() == first


def test_every_orchestrator_log_line_has_the_fields_other_tools_read(stack: Stack) -> None:
    stack.write({"svc": {"command": service_command("--exit-code", "1"), "backoff": {"max_failures": 2}}})
    stack.cli("up", "--timeout", "2")
    wait_until(lambda: any(e["status"] == "fatal" for e in stack.events("svc")), timeout=10)
    raw = stack.workspace.orchestrator_log.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    for event in stack.events():
        assert {"timestamp", "action", "target", "status", "details"} <= event.keys()
        assert ISO_WITH_OFFSET.match(event["timestamp"]), event["timestamp"]
    vocabulary = {(e["action"], e["status"]) for e in stack.events("svc")}
    assert {("start", "attempting"), ("restart", "attempting"), ("restart", "failed")} <= vocabulary
