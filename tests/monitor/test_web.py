"""The dashboard's web rules (issue 10): loopback Host, no cross-site requests, the token, a one-time
login that sets an HttpOnly SameSite=Strict cookie, CSRF on the buttons; `/metrics` parses."""

from __future__ import annotations

import time
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from autonomic.clock import FakeClock
from autonomic.errors import ControlError
from autonomic.monitor.dashboard.app import DashboardApp
from autonomic.monitor.dashboard.hub import Hub
from autonomic.monitor.dashboard.sessions import Sessions
from autonomic.monitor.dashboard.sitecheck import SiteCheck
from autonomic.monitor.history import History
from autonomic.monitor.summary import build_summary
from tests.monitor.support import sample

TOKEN = "t" * 43
BASE = "http://127.0.0.1:8092"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


class Fixture:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.calls: list[tuple[str, str]] = []
        history = History(hold=30.0)
        reading = sample(time.time(), {"web": "running", "queue": "running"}, pending=2)
        reading["queue"]["by_type"] = {
            "http": {
                "count": 3,
                "success_rate": 1.0,
                "p50_ms": 12.0,
                "p95_ms": 30.0,
                "timed": 3,
                "sum_ms": 50.0,
                "buckets": [0, 0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3],
            }
        }
        history.add_sample(reading)
        self.hub = Hub(history)
        self.hub.summary = build_summary(history, {}, [], time.time(), 10.0)
        self.sessions = Sessions(self.clock)
        app = DashboardApp(self.hub, self.sessions, TOKEN, self.control, "autonomic_monitor_8092")
        self.client = TestClient(
            app.asgi(SiteCheck("127.0.0.1", [], [])), base_url=BASE, follow_redirects=False
        )

    def control(self, command: str, service: str) -> dict[str, Any]:
        if service == "nope":
            raise ControlError("no service named 'nope'")
        self.calls.append((command, service))
        return {"ok": True, "service": {"name": service, "state": "running"}}

    def login(self) -> str:
        code = self.client.post("/api/login-codes", headers=BEARER, json={}).json()["code"]
        answer = self.client.get(f"/login?code={code}")
        assert answer.status_code == 303
        page = self.client.get("/").text
        return str(page.split('name="csrf-token" content="')[1].split('"')[0])


@pytest.fixture
def web() -> Fixture:
    return Fixture()


def test_issue10_a_cross_site_post_to_the_restart_button_is_refused(web: Fixture) -> None:
    csrf = web.login()
    forged = web.client.post(
        "/api/services/web/restart", headers={"Origin": "http://evil.example", "X-CSRF-Token": csrf}
    )
    assert forged.status_code == 403 and "cross-site" in forged.json()["detail"]
    no_csrf = web.client.post("/api/services/web/restart", headers={"Origin": BASE})
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.json()["detail"]
    same_site = web.client.post(
        "/api/services/web/restart", headers={"Sec-Fetch-Site": "same-site", "X-CSRF-Token": csrf}
    )
    assert same_site.status_code == 403
    assert web.calls == []
    allowed = web.client.post("/api/services/web/restart", headers={"Origin": BASE, "X-CSRF-Token": csrf})
    assert allowed.status_code == 200 and web.calls == [("restart", "web")]


def test_the_one_time_login_sets_a_strict_httponly_cookie_and_works_once(web: Fixture) -> None:
    code = web.client.post("/api/login-codes", headers=BEARER, json={}).json()["code"]
    first = web.client.get(f"/login?code={code}")
    cookie = first.headers["set-cookie"]
    assert first.status_code == 303 and first.headers["location"] == "/"
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    again = TestClient(web.client.app, base_url=BASE, follow_redirects=False).get(f"/login?code={code}")
    assert again.status_code == 403 and "already used" in again.json()["detail"]


def test_a_login_code_expires_after_a_minute(web: Fixture) -> None:
    code = web.client.post("/api/login-codes", headers=BEARER, json={}).json()["code"]
    web.clock.advance(61)
    assert web.client.get(f"/login?code={code}").status_code == 403


def test_everything_but_health_and_login_needs_a_credential(web: Fixture) -> None:
    for path in ("/", "/events", "/metrics", "/api/summary"):
        assert web.client.get(path).status_code == 401, path
    assert web.client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert web.client.post("/api/login-codes", json={}).status_code == 401
    assert web.client.get("/health").status_code == 200


def test_a_foreign_host_is_refused(web: Fixture) -> None:
    answer = web.client.get("/health", headers={"Host": "attacker.example:8092"})
    assert answer.status_code == 403 and "Host" in answer.json()["detail"]


def test_the_page_renders_states_with_a_csp_nonce(web: Fixture) -> None:
    web.login()
    page = web.client.get("/")
    assert 'data-service="web" data-state="running"' in page.text
    policy = page.headers["content-security-policy"]
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in page.text and "default-src 'none'" in policy


def test_a_refused_control_request_is_one_clear_answer(web: Fixture) -> None:
    answer = web.client.post("/api/services/nope/stop", headers=BEARER)
    assert answer.status_code == 409 and "no service named" in answer.json()["detail"]
    assert web.client.post("/api/services/web/explode", headers=BEARER).status_code == 404


def test_metrics_parse_with_prometheus_clients_parser(web: Fixture) -> None:
    text = web.client.get("/metrics", headers=BEARER).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    up = {s.labels["service"]: s.value for s in families["autonomic_service_up"].samples}
    assert up == {"web": 1.0, "queue": 1.0}
    depth = {
        (s.labels["status"], s.labels["priority"]): s.value for s in families["autonomic_queue_tasks"].samples
    }
    assert depth[("pending", "normal")] == 2.0
    histogram = families["autonomic_task_duration_seconds"]
    assert histogram.type == "histogram"  # the text format has no gauge histogram type
    buckets = {s.labels["le"]: s.value for s in histogram.samples if s.name.endswith("_bucket")}
    assert buckets["0.025"] == 3.0 and buckets["+Inf"] == 3.0
    assert families["autonomic_system_cpu_percent"].samples[0].value == 10.0
