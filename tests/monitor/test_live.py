"""The whole thing, live (issue 10): `autonomic up` with the monitor; the four reports appear; the page,
opened in headless Chromium through the one-time URL of `autonomic dashboard`, shows a killed service go
running -> restarting -> running without a reload; `/metrics` of the running daemon parses."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from autonomic import scaffold
from autonomic.worker.browser_pool import find_chromium
from autonomic.workspace import Workspace
from tests.helpers import free_port, kill_tree, run_cli, wait_until, workspace_pids

pytestmark = pytest.mark.browser

CHROMIUM = find_chromium()
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
RECORD_STATES = """
() => {
  window.__states = [];
  window.__loaded = performance.timeOrigin;
  const record = () => {
    const row = document.querySelector('tr[data-service="web"]');
    const state = row && row.dataset.state;
    if (state && window.__states[window.__states.length - 1] !== state) window.__states.push(state);
  };
  record();
  new MutationObserver(record).observe(document.getElementById('services'),
    {subtree: true, childList: true, attributes: true, characterData: true});
}
"""


class Live:
    def __init__(self, root: Path, fast: bool = True) -> None:
        self.root = root
        self.workspace = Workspace.at(root)
        self.port = free_port()
        scaffold.init(self.workspace)
        web = json.dumps([sys.executable, "-c", "import time; time.sleep(3600)"])
        quick = 'interval = "1s"\nreport_every = "2s"\n' if fast else ""
        self.workspace.config_file.write_text(
            f"[queue]\nport = {free_port()}\n[worker]\nenabled = false\n[watchdog]\nenabled = false\n"
            f"[monitor]\nport = {self.port}\n{quick}"
            f"[services.web]\ncommand = {web}\n"
        )

    def cli(self, *args: str, timeout: float = 90.0) -> Any:
        return run_cli(*args, "-w", str(self.root), timeout=timeout)

    def status(self) -> dict[str, Any]:
        result = self.cli("status", "--json")
        assert result.returncode == 0, result.stderr
        return {s["name"]: s for s in json.loads(result.stdout)["services"]}

    def get(self, path: str) -> str:
        token = self.workspace.token_file.read_text().strip()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return str(answer.read().decode())


@pytest.fixture
def live(tmp_workspace: Path, request: pytest.FixtureRequest) -> Iterator[Live]:
    stack = Live(tmp_workspace, fast=getattr(request, "param", True))
    yield stack
    stack.cli("down", timeout=60)
    kill_tree(workspace_pids(tmp_workspace))


@pytest.mark.parametrize("live", [False], indirect=True)  # the default interval and report period
def test_issue10_reports_appear_at_once_match_their_sample_and_metrics_parse(live: Live) -> None:
    up = live.cli("up", "--timeout", "60")
    assert up.returncode == 0, up.stderr + up.stdout
    outputs = live.workspace.outputs
    names = (
        "monitoring_report_latest.md",
        "performance_dashboard_latest.md",
        "realtime_summary_latest.json",
        "dashboard_latest.html",
    )
    wait_until(
        lambda: all((outputs / n).exists() for n in names), timeout=60, interval=0.5, what="the reports"
    )
    summary = json.loads((outputs / "realtime_summary_latest.json").read_text())
    samples = [json.loads(line) for line in live.workspace.metrics_file.read_text().splitlines()]
    source = next(s for s in samples if s["timestamp"] == summary["sample_at"])
    assert [(s["name"], s["state"], s["restarts"]) for s in summary["services"]] == [
        (s["name"], s["state"], s["restarts"]) for s in source["services"]
    ]
    assert summary["queue"] == source["queue"]  # reachable or not (it may still be starting): as sampled
    assert summary["system"]["cpu_percent"] == source["cpu_usage_percent"]
    families = wait_until(
        lambda: _families_with_queue(live), timeout=30, interval=1, what="a sample of the queue"
    )
    up_by_service = {s.labels["service"]: s.value for s in families["autonomic_service_up"].samples}
    assert up_by_service["queue"] == 1.0 and "web" in up_by_service and "monitor" in up_by_service
    rss = {s.labels["service"]: s.value for s in families["autonomic_service_rss_bytes"].samples}
    assert rss["queue"] > 10 * 1024 * 1024
    assert {"timestamp", "total_tasks", "queue_size", "cpu_usage_percent", "memory_usage_mb"} <= set(
        samples[-1]
    )


def _families_with_queue(live: Live) -> dict[str, Any] | None:
    """The metrics once a sample saw the queue answer and its service running (the first sample after
    `up` may have caught the service a moment before its state read `running`)."""
    families = {f.name: f for f in text_string_to_metric_families(live.get("/metrics"))}
    reachable = families.get("autonomic_queue_reachable")
    up = families.get("autonomic_service_up")
    queue_up = up is not None and any(
        s.labels.get("service") == "queue" and s.value == 1.0 for s in up.samples
    )
    return families if reachable and reachable.samples[0].value == 1.0 and queue_up else None


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on PATH (apt-get install chromium)")
def test_issue10_the_live_page_sees_a_killed_service_restart_without_a_reload(
    live: Live, tmp_path: Path
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    up = live.cli("up", "--timeout", "60")
    assert up.returncode == 0, up.stderr + up.stdout
    wait_until(lambda: live.workspace.heartbeat_file("monitor").exists(), timeout=30, what="the monitor")
    url = wait_until(lambda: _login_url(live), timeout=30, interval=0.5, what="the dashboard to answer")
    home, profile = tmp_path / "home", tmp_path / "profile"
    home.mkdir()
    try:
        with sync_api.sync_playwright() as driver:
            context = driver.chromium.launch_persistent_context(
                str(profile),
                executable_path=CHROMIUM,
                headless=True,
                args=FLAGS,
                env={**os.environ, "HOME": str(home)},
            )
            try:
                page = context.new_page()
                page.goto(url)
                assert page.url.rstrip("/").endswith(str(live.port))  # the code was swapped for a cookie
                page.wait_for_selector('tr[data-service="web"][data-state="running"]', timeout=30_000)
                assert page.locator('tr[data-service="queue"] .state').inner_text() == "running"
                assert page.locator('tr[data-service="monitor"] .state').inner_text() == "running"
                cookie = next(c for c in context.cookies() if c["name"] == f"autonomic_monitor_{live.port}")
                assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
                page.evaluate(RECORD_STATES)
                loaded = page.evaluate("window.__loaded")
                os.kill(int(live.status()["web"]["pid"]), signal.SIGKILL)
                wait_until(
                    lambda: _went_through(
                        page.evaluate("window.__states"), ["running", "restarting", "running"]
                    ),
                    timeout=30,
                    interval=0.2,
                    what="running -> restarting -> running on the page",
                )
                assert page.evaluate("window.__loaded") == loaded  # the same document: no reload
                shot = tmp_path / "dashboard.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 10_000
            finally:
                context.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(profile, ignore_errors=True)
    assert not profile.exists() and not home.exists()


def _login_url(live: Live) -> str | None:
    result = live.cli("dashboard", "--no-open")
    if result.returncode != 0:
        return None
    line = result.stdout.strip().splitlines()[-1]
    return line if "/login?code=" in line else None


def _went_through(seen: list[str], wanted: list[str]) -> bool:
    position = 0
    for state in seen:
        if position < len(wanted) and state == wanted[position]:
            position += 1
    return position == len(wanted)
