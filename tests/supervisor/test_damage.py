"""Issue 8: the orchestrator under damage. Deleted or garbled runtime files, unwritable logs, a port held
by someone else, a frozen service: never two orchestrators, never a duplicated or unsupervised service,
and a status that says what is going on."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from autonomic.supervisor import markers
from autonomic.supervisor.control import ControlClient
from autonomic.supervisor.record import ProcessRecord
from tests.helpers import PYTHON, alive, free_port, kill_tree, wait_until, workspace_pids
from tests.supervisor.conftest import Stack, service_command


def _web(stack: Stack, port: int, *flags: str, **table: object) -> dict[str, object]:
    return {
        "command": service_command("--port", str(port), "--mark", str(stack.path("marks")), *flags),
        "health": {
            "http": f"http://127.0.0.1:{port}/health",
            "interval": "0.2s",
            "timeout": "0.5s",
            "failures": 2,
        },
        "backoff": {"reset_after": "1s", "initial": "0.2s", "max": "1s"},
        **table,
    }


def _orchestrators(stack: Stack) -> list[int]:
    pids = workspace_pids(stack.root)
    return [p for p in pids if "autonomic.supervisor" in " ".join(psutil.Process(p).cmdline())]


def _service_pids(stack: Stack, name: str) -> list[int]:
    return [f.pid for f in markers.find_services(stack.workspace.root) if f.service == name]


def _serving(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
        sock.sendall(b"GET /health HTTP/1.0\r\n\r\n")
        return sock.recv(20).startswith(b"HTTP/1.0 200")
    return False


def _running_again(stack: Stack, name: str, not_pid: int, timeout: float = 15) -> dict[str, object]:
    return dict(
        wait_until(
            lambda: (s := stack.service(name))["state"] == "running" and s["pid"] != not_pid and s,
            timeout=timeout,
            what=f"{name} running again under a new pid",
        )
    )


def test_deleting_the_lock_and_control_files_never_gives_a_second_orchestrator(stack: Stack) -> None:
    port = free_port()
    stack.write({"web": _web(stack, port)})
    stack.up()
    first = stack.orchestrator_pid()
    web = stack.service("web")["pid"]
    stack.workspace.lock_file.unlink()
    stack.workspace.control_file.unlink()
    stack.up()
    assert _orchestrators(stack) == [first]
    assert stack.service("web")["pid"] == web
    time.sleep(1.1)
    os.kill(web, signal.SIGKILL)
    _running_again(stack, "web", web)
    time.sleep(0.5)
    assert len(_service_pids(stack, "web")) == 1 and _orchestrators(stack) == [first]
    stack.workspace.control_file.unlink()  # down finds the orchestrator all the same, and stops it
    result = stack.cli("down")
    assert result.returncode == 0, result.stderr
    assert "stopped: web" in result.stdout
    time.sleep(1.5)  # nothing respawns behind down's back
    assert workspace_pids(stack.root) == []


DAMAGE = {"garbled": "{garbled", "empty": "", "wrong": '{"pid": "x", "service": "wrong"}'}


def test_damaged_records_with_the_orchestrator_down_are_reported_and_the_live_services_adopted(
    stack: Stack,
) -> None:
    stack.write({name: _web(stack, free_port()) for name in DAMAGE})
    stack.up()
    pids = {s["name"]: s["pid"] for s in stack.status()["services"]}
    os.kill(stack.orchestrator_pid(), signal.SIGKILL)
    wait_until(lambda: not _orchestrators(stack), timeout=10)
    for name, damage in DAMAGE.items():
        stack.workspace.record_file(name).write_text(damage)
    down = stack.status()
    assert down["ok"] is False
    assert {s["name"]: (s["state"], s["pid"]) for s in down["services"]} == {
        name: ("orphaned", pid) for name, pid in pids.items()
    }
    stack.up()
    after = {s["name"]: s for s in stack.status()["services"]}
    for name, pid in pids.items():
        assert after[name]["pid"] == pid and after[name]["state"] == "running"
        assert _service_pids(stack, name) == [pid]
        assert any(e["action"] == "adopt" and "damaged" in e["details"] for e in stack.events(name))
        record = ProcessRecord.read(stack.workspace.record_file(name))
        assert record is not None and record.pid == pid  # written again for the next orchestrator
    assert len(stack.path("marks").read_text().split()) == len(DAMAGE)  # no second copy ever started
    shown = stack.cli("status")
    assert shown.stderr.count("damaged") == len(DAMAGE), shown.stdout + shown.stderr


def test_a_marked_process_of_an_older_config_is_stopped_before_the_new_copy_starts(stack: Stack) -> None:
    port = free_port()
    stack.write({"web": _web(stack, port)})
    stack.up()
    old = stack.service("web")["pid"]
    os.kill(stack.orchestrator_pid(), signal.SIGKILL)
    stack.workspace.record_file("web").unlink()  # only the mark tells what it is
    stack.write({"web": _web(stack, port, env={"CHANGED": "1"})})
    stack.up()
    new = stack.service("web")
    assert new["pid"] != old and new["state"] == "running"
    assert not alive(old)
    assert _service_pids(stack, "web") == [new["pid"]]
    assert any("older config: stopped" in e["details"] for e in stack.events("web"))


def test_down_with_garbled_records_and_no_orchestrator_stops_every_marked_process(stack: Stack) -> None:
    port = free_port()
    stack.write({"web": _web(stack, port), "bg": {"command": service_command()}})
    stack.up()
    pids = [s["pid"] for s in stack.status()["services"]]
    os.kill(stack.orchestrator_pid(), signal.SIGKILL)
    for name in ("web", "bg"):
        stack.workspace.record_file(name).write_text("")
    result = stack.cli("down")
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split("stopped: ")[1].strip().split(", ")) == {"web", "bg"}
    assert not any(alive(p) for p in pids)
    assert workspace_pids(stack.root) == []


@contextlib.contextmanager
def _read_only(folder: Path) -> Iterator[None]:
    """`folder` unwritable even for root: a read-only bind mount onto itself (a mode change otherwise)."""
    if os.geteuid() != 0:
        folder.chmod(0o500)
        try:
            yield
        finally:
            folder.chmod(0o700)
        return
    subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True)
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _can_bind_mount(tmp_path: Path) -> bool:
    if os.geteuid() != 0:
        return True
    probe = tmp_path / "mount-probe"
    probe.mkdir()
    done = subprocess.run(["mount", "--bind", str(probe), str(probe)], capture_output=True, check=False)
    subprocess.run(["umount", str(probe)], capture_output=True, check=False)
    return done.returncode == 0


def test_unwritable_logs_and_outputs_never_stop_a_restart(stack: Stack, tmp_path: Path) -> None:
    if not _can_bind_mount(tmp_path):
        pytest.skip("running as root without the right to bind-mount: cannot make a folder read-only")
    port = free_port()
    stack.write({"web": _web(stack, port)})
    stack.up()
    web = stack.service("web")["pid"]
    time.sleep(1.1)
    with _read_only(stack.workspace.logs), _read_only(stack.workspace.outputs):
        with pytest.raises(OSError):
            (stack.workspace.logs / "probe").write_text("x")
        killed_at = time.monotonic()
        os.kill(web, signal.SIGKILL)
        again = _running_again(stack, "web", web)
        assert time.monotonic() - killed_at < 10
        assert _serving(port)
        problems = " ".join(str(p) for p in again["problems"])  # type: ignore[attr-defined]
        assert "web.log" in problems and "output discarded" in problems
        status = stack.status()
        assert any("event log" in p for p in status["orchestrator"]["problems"])
        restart = stack.cli("restart", "web")  # a handler failing on the disk answers, never "malformed"
        assert restart.returncode == 0, restart.stderr
        assert "running (pid" in restart.stdout
        web = stack.service("web")["pid"]
    time.sleep(1.1)
    os.kill(web, signal.SIGKILL)
    again = _running_again(stack, "web", web)
    assert again["problems"] == []
    assert "starting" in stack.workspace.service_log("web").read_text().splitlines()[-1]
    assert oct(stack.workspace.service_log("web").stat().st_mode & 0o777) == "0o600"
    assert oct(stack.workspace.orchestrator_log.stat().st_mode & 0o777) == "0o600"
    down = stack.cli("down")
    assert down.returncode == 0
    assert "Traceback" not in (stack.workspace.logs / "orchestrator.log").read_text()


def test_a_foreign_process_on_the_port_is_a_failure_that_names_it(stack: Stack) -> None:
    port = free_port()
    foreign = subprocess.Popen([PYTHON, *service_command("--port", str(port))[1:]], start_new_session=True)
    try:
        wait_until(lambda: _serving(port), timeout=10, what="the foreign server")
        stack.write({"web": _web(stack, port)})
        began = time.monotonic()
        result = stack.cli("up", "--timeout", "60")
        assert result.returncode == 1, result.stdout + result.stderr
        assert time.monotonic() - began < 40
        assert f"port {port} is held by pid {foreign.pid}" in result.stderr
        assert "address already in use" in result.stderr
        status = stack.service("web")
        assert status["state"] != "running"
        assert f"pid {foreign.pid}" in (status["blocked"] or "")
    finally:
        kill_tree([foreign.pid])
        foreign.wait(5)


def test_a_sigstopped_service_shows_restarting_hung_and_is_killed_at_once(stack: Stack) -> None:
    port = free_port()
    stack.write({"web": _web(stack, port, stop_timeout="30s")})
    stack.up()
    web = stack.service("web")["pid"]
    os.kill(web, signal.SIGSTOP)
    stopped_at = time.monotonic()
    seen: set[str] = set()
    control = ControlClient.for_file(stack.workspace.control_file)

    def serving_again() -> bool:
        service = control.status().service("web")
        assert service is not None
        seen.add(service.shown_state)
        return service.state.value == "running" and service.pid != web and _serving(port)

    wait_until(serving_again, timeout=20, interval=0.02, what="web serving again")
    budget = 2 * (0.2 + 0.5 + 1.0)  # failures x (interval + timeout + the probe's grace)
    assert time.monotonic() - stopped_at < budget + 2  # SIGKILL at once, not after stop_timeout (30 s)
    assert "restarting (hung)" in seen, seen
    assert "running" in seen  # and before that, while the probe still had misses left
    assert not alive(web)
    hung = [e for e in stack.events("web") if e.get("reason") == "hung"]
    assert hung and hung[0]["status"] == "restarting"


def test_up_after_adding_a_slow_service_waits_until_it_runs(stack: Stack) -> None:
    stack.write({"bg": {"command": service_command()}})
    stack.up()
    port = free_port()
    stack.write({"bg": {"command": service_command()}, "slow": _web(stack, port, "--start-delay", "2")})
    result = stack.cli("up", "--timeout", "60")
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if "slow" in line)
    assert "running" in line
    assert _serving(port)


def test_start_and_restart_say_the_state_reached_and_unknown_names_fail_alike(stack: Stack) -> None:
    port = free_port()
    bad = {
        "command": service_command("--exit-code", "1"),
        "autostart": False,
        "backoff": {"max_failures": 2, "initial": "0.1s"},
    }
    stack.write({"web": _web(stack, port, "--start-delay", "1"), "bad": bad})
    stack.up()
    restart = stack.cli("restart", "web")
    assert restart.returncode == 0 and "web: running (pid" in restart.stdout, restart.stdout + restart.stderr
    start = stack.cli("start", "bad")
    assert start.returncode == 1
    assert "exited with code 1" in start.stderr
    stop = stack.cli("stop", "web")
    assert stop.returncode == 0 and "web: stopped" in stop.stdout
    messages = set()
    for verb in ("start", "stop", "restart", "logs"):
        result = stack.cli(verb, "nope")
        assert result.returncode == 2, (verb, result.stderr)
        messages.add(result.stderr.strip())
    assert len(messages) == 1 and "no service named 'nope' (known: web, bad)" in messages.pop()


def test_status_without_an_orchestrator_lists_the_configured_services_and_fails(stack: Stack) -> None:
    stack.write({"web": {"command": service_command()}, "bg": {"command": service_command()}})
    result = stack.cli("status", "--json")
    assert result.returncode == 3
    status = __import__("json").loads(result.stdout)
    assert status["ok"] is False
    assert [(s["name"], s["state"]) for s in status["services"]] == [("web", "stopped"), ("bg", "stopped")]
    table = stack.cli("status")
    assert table.returncode == 3 and "stopped" in table.stdout and "not running" in table.stderr


@pytest.mark.parametrize("path", ["control_file", "plan_file", "lock_file", "records_dir"])
def test_a_folder_where_a_file_belongs_or_the_reverse_is_one_line(stack: Stack, path: str) -> None:
    stack.write({"bg": {"command": service_command()}})
    target = Path(getattr(stack.workspace, path))
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.unlink() if target.is_file() else target.rmdir()
    if path == "records_dir":
        target.write_text("not a folder")
    else:
        target.mkdir()
    for verb in (["up", "--timeout", "20"], ["status"], ["down"]):
        result = stack.cli(*verb)
        assert "Traceback" not in result.stderr + result.stdout, (verb, result.stderr)
        if result.returncode != 0:
            one_line = len(result.stderr.strip().splitlines()) == 1
            assert one_line or "not running" in result.stderr, result.stderr


def test_concurrent_up_and_down_end_in_the_state_their_exit_codes_say(stack: Stack) -> None:
    stack.write({"bg": {"command": service_command()}})
    for delay in (0.2, 0.6, 1.0):
        up = subprocess.Popen(
            [PYTHON, "-m", "autonomic", "up", "--timeout", "30", "-w", str(stack.root)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(delay)
        down = stack.cli("down")
        up_code = up.wait(60)
        _, up_err = up.communicate()
        assert down.returncode == 0, down.stderr
        assert "Traceback" not in up_err
        time.sleep(1.0)
        running = workspace_pids(stack.root)
        if "orchestrator" in down.stdout:  # down came after up's start: nothing may be left
            assert running == [], (delay, down.stdout, up_code, up_err)
            assert up_code in (0, 3), up_err  # 3: up saw the orchestrator stop while it waited
        else:  # down found nothing, so up came last: it must have succeeded and left the stack up
            assert up_code == 0 and running, (delay, down.stdout, up_code, up_err)
            assert stack.cli("down").returncode == 0
