"""The orchestrator with real processes: restarts, hangs, backoff, order, adoption, clean stops."""

from __future__ import annotations

import concurrent.futures
import os
import re
import signal
import time

import psutil

from autonomic.supervisor.control import ControlClient
from tests.helpers import alive, free_port, wait_until, workspace_pids
from tests.supervisor.conftest import Stack, service_command


def _marks(stack: Stack, name: str = "marks") -> list[int]:
    path = stack.path(name)
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def _web(stack: Stack, port: int, *flags: str, **table: object) -> dict[str, object]:
    return {
        "command": service_command("--port", str(port), "--mark", str(stack.path("marks")), *flags),
        "health": {
            "http": f"http://127.0.0.1:{port}/health",
            "interval": "0.2s",
            "timeout": "0.5s",
            "failures": 2,
        },
        "backoff": {"reset_after": "1s"},
        **table,
    }


def test_a_killed_service_is_restarted_at_once(stack: Stack) -> None:
    port = free_port()
    stack.write({"web": _web(stack, port)})
    stack.up()
    first = stack.service("web")
    assert first["state"] == "running"
    time.sleep(1.1)  # past reset_after: the next failure restarts without delay
    killed_at = time.monotonic()
    os.kill(first["pid"], signal.SIGKILL)
    again = wait_until(
        lambda: (s := stack.service("web"))["state"] == "running" and s["pid"] != first["pid"] and s,
        timeout=10,
        what="web running again under a new pid",
    )
    assert time.monotonic() - killed_at < 5
    assert again["restarts"] == 1
    assert len(_marks(stack)) == 2
    restarts = [e for e in stack.events("web") if e["action"] == "restart"]
    assert [e["status"] for e in restarts][-2:] == ["attempting", "success"]


def test_a_hung_service_is_restarted(stack: Stack) -> None:
    port = free_port()
    hang = stack.path("hang")
    stack.write({"web": _web(stack, port, "--hang-file", str(hang))})
    stack.up()
    first = stack.service("web")["pid"]
    hang.write_text("x")
    # the new process hangs too while the file exists, so remove it once the old one is gone
    wait_until(lambda: not alive(first), timeout=15, what="the hung process to be stopped")
    hang.unlink()
    wait_until(
        lambda: (s := stack.service("web"))["state"] == "running" and s["pid"] != first,
        timeout=15,
        what="web running again",
    )
    downs = [e for e in stack.events("web") if e["action"] == "check" and e["status"] == "down"]
    assert len(downs) >= 2
    assert any(e.get("reason") == "hung" for e in stack.events("web") if e["action"] == "restart")


def test_a_crash_loop_backs_off_goes_fatal_and_is_tried_again_after_the_cool_down(stack: Stack) -> None:
    stack.write(
        {
            "flaky": {
                "command": service_command("--exit-code", "1", "--mark", str(stack.path("marks"))),
                "backoff": {"initial": "0.1s", "max": "0.4s", "max_failures": 3, "cooldown": "4s"},
            }
        }
    )
    began = time.monotonic()
    result = stack.cli("up", "--timeout", "60")
    assert result.returncode == 1, result.stdout + result.stderr  # up fails fast, not after 60 s
    assert time.monotonic() - began < 30
    assert "fatal" in result.stdout
    # the reason, with the last line the service wrote before it exited
    assert re.search(r"exited with code 1: service pid \d+ starting; 3 failures in a row", result.stderr)
    events = stack.events("flaky")
    first_fatal = next(i for i, e in enumerate(events) if e["action"] == "state" and e["status"] == "fatal")
    starts = [
        e for e in events[:first_fatal] if e["action"] in ("start", "restart") and e["status"] == "attempting"
    ]
    assert len(starts) == 3  # max_failures failures in a row, then fatal: as the README says
    spawns_when_fatal = len(_marks(stack))
    table = stack.cli("status").stdout
    assert "3 failures in a row" in table or "restarting" in table or "starting" in table, table
    wait_until(
        lambda: len(_marks(stack)) > spawns_when_fatal, timeout=15, what="a new try after the cool-down"
    )
    assert any(e["status"] == "failed" and "cooling" in e["details"] for e in stack.events("flaky"))


def test_dependents_start_after_their_dependency_is_ready_and_stop_before_it(stack: Stack) -> None:
    port = free_port()
    stack.write(
        {
            "db": _web(stack, port, "--start-delay", "1.0"),
            "app": {"command": service_command("--mark", str(stack.path("app-marks"))), "after": ["db"]},
        }
    )
    stack.up()
    events = stack.events()
    db_ready = next(i for i, e in enumerate(events) if e["target"] == "db" and e["status"] == "running")
    app_start = next(i for i, e in enumerate(events) if e["target"] == "app" and e["action"] == "start")
    assert db_ready < app_start
    assert stack.cli("down").returncode == 0
    events = stack.events()
    app_stop = next(i for i, e in enumerate(events) if e["target"] == "app" and e["status"] == "stopped")
    db_stop = next(i for i, e in enumerate(events) if e["target"] == "db" and e["status"] == "stopped")
    assert app_stop < db_stop


def test_ten_concurrent_ups_end_with_one_orchestrator_and_one_of_each_service(stack: Stack) -> None:
    port = free_port()
    stack.write(
        {"web": _web(stack, port), "other": {"command": service_command("--mark", str(stack.path("o")))}}
    )
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda _: stack.cli("up", "--timeout", "30", timeout=90), range(10)))
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    daemons = [
        p
        for p in workspace_pids(stack.root)
        if "autonomic.supervisor" in " ".join(psutil.Process(p).cmdline())
    ]
    assert len(daemons) == 1
    assert len(_marks(stack)) == 1
    assert len(_marks(stack, "o")) == 1


def test_after_the_orchestrator_is_killed_up_adopts_the_running_service(stack: Stack) -> None:
    port = free_port()
    stack.write({"web": _web(stack, port)})
    stack.up()
    crashed = stack.service("web")["pid"]
    os.kill(crashed, signal.SIGKILL)
    serving = wait_until(
        lambda: (s := stack.service("web"))["state"] == "running" and s["pid"] != crashed and s["pid"],
        timeout=10,
    )
    orchestrator = stack.orchestrator_pid()
    os.kill(orchestrator, signal.SIGKILL)
    wait_until(lambda: not alive(orchestrator), timeout=5)
    orphaned = stack.status()
    assert orphaned["orchestrator"] is None
    assert orphaned["services"][0]["state"] == "orphaned"
    stack.up()
    status = stack.status()
    assert status["orchestrator"]["pid"] != orchestrator
    assert status["services"][0]["pid"] == serving
    assert status["services"][0]["state"] == "running"
    assert status["services"][0]["adopted"] is True
    assert status["services"][0]["restarts"] == 1  # the count survives the orchestrator
    assert _marks(stack) == [crashed, serving]  # zero new spawns
    assert alive(serving)


def test_a_recycled_pid_in_a_record_is_not_adopted_nor_killed(stack: Stack, pids: list[int]) -> None:
    stranger = psutil.Popen(["sleep", "60"])
    pids.append(stranger.pid)
    stack.write({"svc": {"command": service_command("--mark", str(stack.path("marks")))}})
    stack.workspace.ensure_dirs()
    stack.workspace.record_file("svc").write_text(
        f'{{"service": "svc", "pid": {stranger.pid}, "create_time": 1.0, "argv": ["x"], "started_at": 1.0}}'
    )
    stack.up()
    assert stack.service("svc")["pid"] != stranger.pid
    assert len(_marks(stack)) == 1
    assert stranger.is_running()


def test_down_leaves_no_process_behind_even_one_ignoring_sigterm_with_escaped_grandchildren(
    stack: Stack,
) -> None:
    children = stack.path("children")
    stack.write(
        {
            "stubborn": {
                "command": service_command(
                    "--ignore-term", "--grandchildren", "3", "--children-file", str(children)
                ),
                "stop_timeout": "1s",
            }
        }
    )
    stack.up()
    main_pid = stack.service("stubborn")["pid"]
    grandchildren = wait_until(lambda: children.read_text().split() if children.exists() else None, timeout=5)
    assert stack.cli("down").returncode == 0
    for pid in [main_pid, *map(int, grandchildren)]:
        assert not alive(pid), f"pid {pid} survived down"
    assert workspace_pids(stack.root) == []


def test_restart_policies_on_failure_and_never_leave_a_clean_exit_alone(stack: Stack) -> None:
    stack.write(
        {
            "once": {"command": service_command("--exit-code", "0"), "restart": "on-failure"},
            "never": {"command": service_command("--exit-code", "5"), "restart": "never"},
            "always": {
                "command": service_command("--exit-code", "0", "--mark", str(stack.path("marks"))),
                "backoff": {"initial": "0.1s", "max": "0.2s"},
            },
        }
    )
    stack.cli("up", "--timeout", "2")
    wait_until(
        lambda: {s["name"]: s["state"] for s in stack.status()["services"]}.get("never") == "exited",
        timeout=10,
    )
    states = {s["name"]: s for s in stack.status()["services"]}
    assert states["once"]["state"] == "exited" and states["once"]["last_exit"] == 0
    assert states["never"]["last_exit"] == 5
    wait_until(lambda: len(_marks(stack)) >= 3, timeout=10, what="'always' to restart after clean exits")


def test_env_file_reaches_services_but_never_the_logs(stack: Stack) -> None:
    stack.workspace.env_file.write_text("API_SECRET=hunter2-very-secret\n")
    stack.write({"env": {"command": service_command("--print-env", "API_SECRET"), "env": {"LEVEL": "info"}}})
    stack.up()
    log = stack.workspace.service_log("env")
    wait_until(lambda: log.exists() and "API_SECRET=hunter2-very-secret" in log.read_text(), timeout=5)
    for path in stack.workspace.outputs.glob("*.jsonl"):
        assert "hunter2" not in path.read_text()
    assert "hunter2" not in stack.workspace.plan_file.read_text()
    stack.workspace.env_file.write_text("API_SECRET=rotated-secret-value-2\n")
    assert stack.cli("restart", "env").returncode == 0
    wait_until(
        lambda: "API_SECRET=rotated-secret-value-2" in log.read_text(),
        timeout=5,
        what="a changed .env to reach the restarted service",
    )


def test_start_stop_restart_one_service_through_the_control_channel(stack: Stack) -> None:
    stack.write({"a": {"command": service_command()}, "b": {"command": service_command()}})
    stack.up()
    b_pid = stack.service("b")["pid"]
    assert stack.cli("stop", "a").returncode == 0
    assert stack.service("a")["state"] == "stopped"
    assert stack.service("b")["pid"] == b_pid
    assert stack.cli("start", "a").returncode == 0
    wait_until(lambda: stack.service("a")["state"] == "running", timeout=5)
    assert stack.cli("restart", "b").returncode == 0
    wait_until(lambda: (s := stack.service("b"))["state"] == "running" and s["pid"] != b_pid, timeout=5)
    unknown = stack.cli("restart", "nope")
    assert unknown.returncode != 0 and "no service named 'nope'" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_a_changed_config_restarts_only_the_changed_service(stack: Stack) -> None:
    stack.write({"a": {"command": service_command()}, "b": {"command": service_command()}})
    stack.up()
    before = {s["name"]: s["pid"] for s in stack.status()["services"]}
    stack.write(
        {"a": {"command": service_command()}, "b": {"command": service_command("--start-delay", "0")}}
    )
    stack.up()
    after = {s["name"]: s["pid"] for s in stack.status()["services"]}
    assert after["a"] == before["a"]
    assert after["b"] != before["b"]
    assert not alive(before["b"])


def test_logs_shows_recent_lines_of_one_or_all_services(stack: Stack) -> None:
    stack.write(
        {
            "a": {"command": service_command("--print-env", "AUTONOMIC_SERVICE")},
            "b": {"command": service_command("--print-env", "AUTONOMIC_SERVICE")},
        }
    )
    stack.up()
    log = stack.workspace.service_log("a")
    wait_until(lambda: log.exists() and "AUTONOMIC_SERVICE=a" in log.read_text(), timeout=5)
    wait_until(lambda: "AUTONOMIC_SERVICE=b" in stack.workspace.service_log("b").read_text(), timeout=5)
    one = stack.cli("logs", "a", "-n", "5")
    assert one.returncode == 0 and "AUTONOMIC_SERVICE=a" in one.stdout and "=b" not in one.stdout
    both = stack.cli("logs")
    assert "a | AUTONOMIC_SERVICE=a" in both.stdout and "b | AUTONOMIC_SERVICE=b" in both.stdout
    missing = stack.cli("logs", "nope")
    assert missing.returncode == 2 and "no service named 'nope'" in missing.stderr


def test_orphaned_grandchildren_are_reaped_by_the_orchestrator_as_subreaper(stack: Stack) -> None:
    children = stack.path("children")
    stack.write(
        {
            "parent": {
                "command": service_command(
                    "--grandchildren",
                    "1",
                    "--children-file",
                    str(children),
                    "--grandchild-seconds",
                    "1",
                    "--crash-after",
                    "0.3",
                ),
                "restart": "never",
            }
        }
    )
    stack.cli("up", "--timeout", "5")
    orphan = int(wait_until(lambda: children.read_text().strip() if children.exists() else None, timeout=5))
    # the parent exits first; its orphan re-parents to the orchestrator (not to PID 1) and is reaped
    # by it once it exits, instead of lingering as a zombie
    wait_until(
        lambda: psutil.Process(orphan).ppid() == stack.orchestrator_pid(),
        timeout=5,
        what="the orphan to be re-parented to the orchestrator",
    )
    wait_until(lambda: not psutil.pid_exists(orphan), timeout=15, what="the orphan to be reaped")


def test_a_deleted_or_damaged_control_file_is_written_again(stack: Stack) -> None:
    stack.write({"svc": {"command": service_command()}})
    stack.up()
    orchestrator = stack.orchestrator_pid()
    stack.workspace.control_file.write_text("{not json")
    wait_until(
        lambda: stack.cli("status", "--json").returncode == 0,
        timeout=15,
        what="the orchestrator to publish its control file again",
    )
    stack.workspace.control_file.unlink()
    wait_until(stack.workspace.control_file.exists, timeout=15)
    assert stack.orchestrator_pid() == orchestrator
    assert stack.status()["orchestrator"]["pid"] == orchestrator


def test_stop_sends_the_configured_signal(stack: Stack) -> None:
    got = stack.path("signal")
    stack.write({"polite": {"command": service_command("--signal-file", str(got)), "stop_signal": "INT"}})
    stack.up()
    assert stack.cli("stop", "polite").returncode == 0
    assert got.read_text() == "SIGINT"


def test_shutdown_leaving_services_running_hands_them_to_the_next_orchestrator(stack: Stack) -> None:
    stack.write({"svc": {"command": service_command("--mark", str(stack.path("marks")))}})
    stack.up()
    serving = stack.service("svc")["pid"]
    orchestrator = stack.orchestrator_pid()
    ControlClient.for_file(stack.workspace.control_file).request("shutdown", leave_running=True)
    wait_until(lambda: not alive(orchestrator), timeout=10, what="the orchestrator to exit")
    assert alive(serving)
    stack.up()
    assert stack.service("svc")["pid"] == serving and stack.service("svc")["adopted"] is True
    assert _marks(stack) == [serving]
