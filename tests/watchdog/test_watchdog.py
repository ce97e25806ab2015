"""The Self-Healing Watchdog with real processes: it revives a SIGKILLed orchestrator (services adopted,
none duplicated), the orchestrator revives it, one runs per workspace, a service that stays unhealthy
across two looks is restarted, the log says `check/all/ok` only when all are ok, and it stays lean."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.health.support import Site, kill9
from tests.helpers import PYTHON, alive, free_port, wait_until

SERVICE = str(Path(__file__).parents[1] / "programs" / "service.py")


@pytest.fixture
def site(tmp_workspace: Path, tmp_path: Path) -> Iterator[Site]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    made = Site(tmp_workspace, home)
    yield made
    made.down()


def _light(site: Site, interval: str = "1s", timeout: str = "5s") -> None:
    """Only the watchdog and a plain service of ours: quick to start on a busy machine."""
    sleeper = f'[services.sleeper]\ncommand = ["{sys.executable}", "-c", "import time; time.sleep(3600)"]\n'
    site.configure(
        queue=False, worker=False, monitor=False, watchdog=interval, extra=sleeper, watchdog_timeout=timeout
    )


def test_a_sigkilled_orchestrator_is_revived_within_two_intervals_with_nothing_duplicated(site: Site) -> None:
    _light(site, interval="2s")
    site.up()
    before = site.wait_one_of_each(["watchdog", "sleeper"])
    old = site.orchestrator_pid()
    kill9(old)
    killed_at = time.monotonic()
    new = wait_until(
        lambda: [p for p in site.orchestrators() if p != old],
        timeout=30,
        interval=0.1,
        what="a new orchestrator",
    )
    took = time.monotonic() - killed_at
    assert took <= 2 * 2.0 + 1.0, f"revived after {took:.2f}s"
    assert len(new) == 1
    assert site.wait_one_of_each(["watchdog", "sleeper"]) == before  # adopted, the same processes
    status = json.loads(site.cli("status", "--json").stdout)
    assert {s["name"]: s["pid"] for s in status["services"]} == {n: p[0] for n, p in before.items()}
    wait_until(
        lambda: [e for e in site.watchdog_log() if (e["action"], e["status"]) == ("restart", "success")],
        timeout=30,
        what="the revival to be logged",
    )
    events = [(e["action"], e["target"], e["status"]) for e in site.watchdog_log()]
    assert ("check", "orchestrator", "down") in events
    assert ("restart", "orchestrator", "attempting") in events
    assert ("restart", "orchestrator", "success") in events
    assert events.index(("restart", "orchestrator", "success")) > events.index(
        ("check", "orchestrator", "down")
    )


def test_the_orchestrator_revives_a_sigkilled_watchdog_at_once(site: Site) -> None:
    _light(site, interval="30s")
    site.up()
    old = site.wait_one_of_each(["watchdog"])["watchdog"][0]
    kill9(old)
    killed_at = time.monotonic()
    new = wait_until(
        lambda: [p for p in site.service_pids().get("watchdog", []) if p != old],
        timeout=30,
        interval=0.05,
        what="a new watchdog",
    )
    took = time.monotonic() - killed_at
    assert took < 5.0, f"the watchdog came back after {took:.2f}s"
    assert len(new) == 1 and site.wait_one_of_each(["watchdog"])["watchdog"] == new
    wait_until(
        lambda: site.workspace.heartbeat_file("watchdog").stat().st_mtime > time.time() - 5, timeout=15
    )


def test_one_watchdog_per_workspace(site: Site, pids: list[int]) -> None:
    _light(site)
    argv = [PYTHON, "-m", "autonomic.watchdog", "--workspace", str(site.root), "--interval", "30"]
    first = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    pids.append(first.pid)
    wait_until(
        lambda: site.workspace.heartbeat_file("watchdog").exists(), timeout=20, what="the first watchdog"
    )
    started = time.monotonic()
    second = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert time.monotonic() - started < 10
    assert second.returncode == 0
    assert second.stderr.strip().count("\n") == 0 and "another watchdog holds" in second.stderr
    assert first.poll() is None
    by_cli = site.cli("watchdog", timeout=30)  # the CLI verb runs the same lean process
    assert by_cli.returncode == 0 and "another watchdog holds" in by_cli.stderr
    first.terminate()
    assert first.wait(timeout=20) == 0
    events = [(e["action"], e["target"], e["status"]) for e in site.watchdog_log()]
    assert events[0] == ("start", "watchdog", "running") and events[-1] == ("stop", "watchdog", "success")


def test_a_service_unhealthy_across_two_looks_is_restarted_and_all_ok_is_only_logged_when_true(
    site: Site,
) -> None:
    port = free_port()
    hang = site.root / "hang"
    probe = f'{{ http = "http://127.0.0.1:{port}/health", interval = "60s", timeout = "1s", failures = 10 }}'
    command = json.dumps([sys.executable, SERVICE, "--port", str(port), "--hang-file", str(hang)])
    extra = f"[services.web]\ncommand = {command}\nhealth = {probe}\n"
    site.configure(queue=False, worker=False, monitor=False, watchdog="1s", extra=extra)
    site.up()
    old = site.wait_one_of_each(["web"])["web"][0]
    wait_until(
        lambda: any(e["target"] == "all" and e["status"] == "ok" for e in site.watchdog_log()), timeout=20
    )
    hang.touch()
    wait_until(
        lambda: any(e["action"] == "restart" and e["target"] == "web" for e in site.watchdog_log()),
        timeout=30,
        what="the watchdog to restart the hung service",
    )
    hang.unlink()
    new = wait_until(
        lambda: [p for p in site.service_pids().get("web", []) if p != old], timeout=30, what="a new web"
    )
    assert len(new) == 1
    events = site.watchdog_log()
    first_down = next(i for i, e in enumerate(events) if e["action"] == "check" and e["target"] == "web")
    restart = next(i for i, e in enumerate(events) if e["action"] == "restart" and e["target"] == "web")
    between = events[first_down:restart]
    assert not [e for e in between if e["target"] == "all" and e["status"] == "ok"]
    assert [e for e in between if e["target"] == "all" and e["status"] == "failed"]
    assert "unhealthy 2 looks in a row" in events[restart]["details"]
    wait_until(
        lambda: any(e["target"] == "all" and e["status"] == "ok" for e in site.watchdog_log()[restart:]),
        timeout=30,
        what="all ok again",
    )
    for record in events:
        assert {"timestamp", "action", "target", "status", "details"} <= set(record)


def test_the_log_rotates(site: Site, pids: list[int]) -> None:
    _light(site)
    site.workspace.watchdog_log.parent.mkdir(parents=True, exist_ok=True)
    site.workspace.watchdog_log.write_text('{"filler": "' + "x" * 70_000 + '"}\n')
    argv = [PYTHON, "-m", "autonomic.watchdog", "--workspace", str(site.root), "--log-max-bytes", "65536"]
    proc = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
    pids.append(proc.pid)
    rotated = site.workspace.watchdog_log.with_name("watchdog_log.jsonl.1")
    wait_until(rotated.exists, timeout=20, what="the rotated log")
    proc.terminate()
    proc.wait(timeout=20)
    assert "filler" in rotated.read_text() and "filler" not in site.workspace.watchdog_log.read_text()


def test_the_watchdog_process_is_lean(site: Site) -> None:
    """No CLI, validation or web libraries in the watchdog; idle RSS within 25 MB."""
    code = (
        "import sys, runpy\n"
        "sys.argv = ['x', '--help']\n"
        "from autonomic.watchdog import __main__ as entry\n"
        "from autonomic.supervisor.__main__ import _import_asyncio_without_ssl\n"
        "_import_asyncio_without_ssl()\n"
        "import autonomic.watchdog.daemon, autonomic.watchdog.watchdog, autonomic.watchdog.link\n"
        "heavy = {'typer', 'rich', 'click', 'pydantic', 'httpx', 'fastapi', 'starlette', 'uvicorn'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    loaded = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, timeout=60)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "[]", loaded.stdout
    _light(site, interval="1s")
    site.up()
    pid = site.wait_one_of_each(["watchdog"])["watchdog"][0]
    wait_until(lambda: len([e for e in site.watchdog_log() if e["action"] == "check"]) >= 3, timeout=30)
    rss = psutil.Process(pid).memory_info().rss / 1024 / 1024
    assert rss <= 25.0, f"watchdog RSS {rss:.1f} MB"


def test_a_hung_orchestrator_is_killed_and_replaced_after_two_unanswered_looks(site: Site) -> None:
    _light(site, interval="1s", timeout="1s")
    site.up()
    before = site.wait_one_of_each(["watchdog", "sleeper"])
    hung = site.orchestrator_pid()
    os.kill(hung, signal.SIGSTOP)  # alive, holding its lock and port, answering nothing
    try:
        wait_until(
            lambda: not alive(hung), timeout=30, interval=0.1, what="the hung orchestrator to be killed"
        )
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(hung, signal.SIGCONT)
    new = wait_until(
        lambda: [p for p in site.orchestrators() if p != hung], timeout=30, what="a new orchestrator"
    )
    assert len(new) == 1 and site.wait_one_of_each(["watchdog", "sleeper"]) == before
    events = [(e["action"], e["target"], e["status"], e["details"]) for e in site.watchdog_log()]
    downs = [e for e in events if e[:3] == ("check", "orchestrator", "down")]
    assert "1 looks in a row" in downs[0][3] and "2 looks in a row" in downs[1][3]
    assert ("stop", "orchestrator", "success", f"killed the hung orchestrator pid {hung}") in events
    wait_until(
        lambda: [e for e in site.watchdog_log() if (e["action"], e["status"]) == ("restart", "success")],
        timeout=30,
        what="the revival to be logged",
    )
