"""The dashboard, `--fix` and `bringup` against a real stack: queue, worker, monitor and watchdog on free
ports, driven through the real CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time

from tests.health.support import Site, kill9
from tests.helpers import PYTHON

CORE = ["queue", "worker", "monitor", "watchdog"]
GREEN_AFTER_UP = ["queue", "worker", "monitor", "watchdog", "venv", "outputs"]  # 1-4, 7, 8


def _ok(report: dict[str, object]) -> dict[str, bool]:
    return {str(c["check"]): bool(c["ok"]) for c in report["checks"]}  # type: ignore[attr-defined]


def test_up_ends_with_the_box_and_fix_recovers_killed_services_and_a_deleted_report(site: Site) -> None:
    site.configure(watchdog="5m")
    shown = site.up().stdout
    assert "System Health Dashboard - Post-Reboot" in shown
    for line in (
        "✓ RPA Worker - Active",
        "✓ Monitoring Daemon - Collecting metrics",
        "✓ Self-Healing Watchdog - Monitoring",
        "✓ Python Virtual Env - Ready",
        "✗ Auto-Start on Boot - not registered",
        "Status: 6/8 checks passed (75%)",
        "System Status: 🟡 DEGRADED",
    ):
        assert line in shown, shown
    assert "✓ Task Queue Server (" in shown and "✓ Recent Output Files (24h) - " in shown
    pids = site.wait_one_of_each(CORE)
    # `status` also lists the workers the queue knows, from every host
    status = json.loads(site.cli("status", "--json").stdout)
    assert [w["info"]["host"] for w in status["workers"] if w["live"]] == [socket.gethostname()]
    assert "last heard" in site.cli("status").stdout

    # the orchestrator and the watchdog gone, then the worker and the monitor killed, a report deleted
    kill9(site.orchestrator_pid())
    for name in ("watchdog", "worker", "monitor"):
        kill9(pids[name][0])
    report_file = site.workspace.outputs / "monitoring_report_latest.md"
    report_file.unlink()
    code, before = site.health()
    failing = {c["check"]: c["line"] for c in before["checks"] if not c["ok"]}
    assert failing["worker"].startswith("RPA Worker - not running")
    assert failing["monitor"].startswith("Monitoring Daemon - not running")
    assert "missing monitoring_report_latest.md" in failing["outputs"]
    assert code == 2 and before["tier"] == "critical"

    code, after = site.health("--fix")
    ok = _ok(after)
    assert all(ok[name] for name in GREEN_AFTER_UP), after
    assert code == 1 and after["tier"] == "degraded"  # boot and backup are not wanted in this config
    assert report_file.is_file()
    whats = " | ".join(a["what"] for a in after["actions"])
    assert "autonomic up (no orchestrator was running)" in whats and "autonomic report" in whats
    assert "left alone: [boot] enabled = false" in whats

    now = site.wait_one_of_each(CORE)
    assert now["queue"] == pids["queue"]  # adopted, not restarted
    assert len(site.orchestrators()) == 1
    logged = [json.loads(line) for line in site.workspace.health_log.read_text().splitlines()]
    assert {"fix", "check"} <= {e["action"] for e in logged}


def test_five_bringups_at_once_end_with_one_of_each_and_a_repeat_is_quick(site: Site) -> None:
    site.configure(watchdog="30s")
    env = {**os.environ, "NO_COLOR": "1", "HOME": str(site.home)}
    argv = [PYTHON, "-m", "autonomic", "bringup", "--json", "--workspace", str(site.root)]
    runs = [
        subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(5)
    ]
    outputs = [run.communicate(timeout=240) for run in runs]
    for run, (out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err
        steps = {s["step"]: s for s in json.loads(out)["steps"]}
        assert list(steps) == [
            "server check",
            "worker check",
            "core probe",
            "monitoring report",
            "realtime dashboard",
        ]
        assert steps["core probe"]["ok"], steps
    site.wait_one_of_each(CORE)
    assert len(site.orchestrators()) == 1
    for name, found in site.service_pids().items():
        assert len(found) == 1, f"{name}: {found}"

    started = time.monotonic()
    again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    took = time.monotonic() - started
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert all(step["ok"] for step in result["steps"]), result["steps"]
    assert all(_ok(result)[name] for name in GREEN_AFTER_UP), result
    assert took < 20.0, f"bring-up of a running stack took {took:.1f}s"
