"""Alerts over a fake clock: a duration condition, one firing and one resolution per problem, a cool-down
(issue 10: the original fired "no active workers" every 5 seconds on an idle system)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from autonomic.clock import FakeClock
from autonomic.eventlog import EventLog
from autonomic.monitor.alerts import AlertBook, recent
from autonomic.monitor.rules import Rules
from autonomic.monitor.settings import AlertSettings
from tests.monitor.support import sample

SETTINGS = AlertSettings.model_validate({"for": "30s", "cooldown": "10m", "backlog_growing": "10m"})


class Book:
    """Rules + AlertBook driven sample by sample on a fake clock."""

    def __init__(self, tmp_path: Path, backup_age: Any = None) -> None:
        self.clock = FakeClock(1_800_000_000.0)
        self.path = tmp_path / "alerts.jsonl"
        self.notified: list[tuple[str, str]] = []
        self.rules = Rules(SETTINGS, backup_age)
        self.book = AlertBook(
            SETTINGS,
            EventLog(self.path),
            self.clock,
            tmp_path / "alerts-state.json",
            notify=lambda title, body: self.notified.append((title, body)),
        )

    def feed(self, seconds: float, every: float = 10.0, **kwargs: Any) -> None:
        """Feed one sample every `every` seconds for `seconds`, all showing the same situation."""
        end = self.clock.time() + seconds
        while self.clock.time() < end:
            self.clock.advance(every)
            self.book.update(self.rules.evaluate(sample(self.clock.time(), **kwargs)))

    def records(self, key: str | None = None) -> list[tuple[str, str]]:
        if not self.path.exists():
            return []
        lines = [json.loads(line) for line in self.path.read_text().splitlines()]
        return [(r["target"], r["status"]) for r in lines if key is None or r["target"] == key]


def test_issue10_an_idle_system_raises_no_alert(tmp_path: Path) -> None:
    book = Book(tmp_path)
    book.feed(3600, states={"queue": "running", "worker": "running"}, pending=0, workers=0)
    assert book.records() == []


def test_issue10_one_condition_makes_one_alert_and_one_resolved(tmp_path: Path) -> None:
    book = Book(tmp_path)
    waiting: dict[str, Any] = {"states": {"worker": "running"}, "pending": 3, "workers": 0}
    book.feed(20, **waiting)
    assert book.records() == []  # held 20 s < for = 30 s
    book.feed(600, **waiting)
    assert book.records() == [("no_workers", "firing")]
    assert len(book.notified) == 1 and "no live worker while 3 tasks wait" in book.notified[0][1]
    book.feed(30, states={"worker": "running"}, pending=3, workers=1)
    assert book.records() == [("no_workers", "firing"), ("no_workers", "resolved")]


def test_a_condition_back_within_the_cooldown_stays_quiet_then_fires_once(tmp_path: Path) -> None:
    book = Book(tmp_path)
    waiting: dict[str, Any] = {"states": {}, "pending": 3, "workers": 0}
    book.feed(60, **waiting)
    book.feed(10, states={}, pending=0, workers=0)
    book.feed(300, **waiting)  # back within the 10-minute cool-down
    assert book.records("no_workers") == [("no_workers", "firing"), ("no_workers", "resolved")]
    book.feed(600, **waiting)  # the cool-down is over and the problem is still there
    assert book.records("no_workers") == [
        ("no_workers", "firing"),
        ("no_workers", "resolved"),
        ("no_workers", "firing"),
    ]


def test_a_fatal_service_alerts_once_and_resolves(tmp_path: Path) -> None:
    book = Book(tmp_path)
    book.feed(120, states={"web": "fatal"})
    book.feed(20, states={"web": "running"})
    assert book.records() == [("service_fatal:web", "firing"), ("service_fatal:web", "resolved")]
    assert json.loads(book.path.read_text().splitlines()[0])["severity"] == "critical"


def test_a_backlog_growing_for_ten_minutes_alerts(tmp_path: Path) -> None:
    book = Book(tmp_path)
    for pending in range(1, 59):  # one more task every 10 s: 9.5 minutes, not yet
        book.feed(10, states={}, pending=pending, workers=1)
    assert book.records("backlog_growing") == []
    for pending in range(59, 70):
        book.feed(10, states={}, pending=pending, workers=1)
    assert book.records("backlog_growing") == [("backlog_growing", "firing")]
    book.feed(10, states={}, pending=10, workers=1)  # draining
    assert book.records("backlog_growing")[-1] == ("backlog_growing", "resolved")


def test_restarts_more_than_n_an_hour_alert(tmp_path: Path) -> None:
    book = Book(tmp_path)
    for restarts in range(SETTINGS.restarts_per_hour + 2):
        book.clock.advance(60)
        reading = sample(book.clock.time(), {"web": "running"})
        reading["services"][0]["restarts"] = restarts
        book.book.update(book.rules.evaluate(reading))
    assert book.records() == [("service_flapping:web", "firing")]


def test_disk_and_memory_thresholds(tmp_path: Path) -> None:
    book = Book(tmp_path)
    book.clock.advance(10)
    full = sample(book.clock.time(), {})
    full["system"]["disk"]["percent"] = 95.0
    full["system"]["memory"]["percent"] = 91.0
    keys = {c.key for c in book.rules.evaluate(full)}
    assert {"disk_full", "memory_high"} <= keys


def test_old_backup_alerts_only_once_backups_exist(tmp_path: Path) -> None:
    ages: list[float | None] = [None]
    book = Book(tmp_path, backup_age=lambda now: ages[0])
    book.feed(120, states={})
    assert book.records() == []  # no backup yet: nothing to say
    ages[0] = 27 * 3600.0
    book.feed(120, states={})
    assert book.records() == [("backup_old", "firing")]


def test_the_book_survives_a_monitor_restart_without_firing_again(tmp_path: Path) -> None:
    book = Book(tmp_path)
    book.feed(60, states={"web": "fatal"})
    again = AlertBook(SETTINGS, EventLog(book.path), book.clock, tmp_path / "alerts-state.json")
    book.clock.advance(10)
    again.update(book.rules.evaluate(sample(book.clock.time(), {"web": "fatal"})))
    assert book.records() == [("service_fatal:web", "firing")]
    assert list(again.firing()) == ["service_fatal:web"]


def test_recent_reads_the_records_since(tmp_path: Path) -> None:
    book = Book(tmp_path)
    book.feed(60, states={"web": "fatal"})
    assert [r["status"] for r in recent(book.path, 0.0)] == ["firing"]


def test_the_originals_rate_thresholds_over_the_last_hours_results(tmp_path: Path) -> None:
    book = Book(tmp_path)
    book.clock.advance(10)
    reading = sample(book.clock.time(), {})
    reading["queue"]["by_type"] = {
        "http": {"count": 8, "success_rate": 0.75, "p50_ms": 1500.0, "p95_ms": 3000.0},
        "ping": {"count": 2, "success_rate": 0.5, "p50_ms": 1.0, "p95_ms": 1.0},
    }
    found = {c.key: c for c in book.rules.evaluate(reading)}
    assert found["error_rate"].severity == "critical" and "30%" in found["error_rate"].message
    assert found["success_rate"].severity == "warning"
    assert "slow_responses" in found  # (1500 * 8 + 1 * 2) / 10 ms
    few = sample(book.clock.time(), {})
    few["queue"]["by_type"] = {"http": {"count": 2, "success_rate": 0.0, "p50_ms": 5.0, "p95_ms": 5.0}}
    assert book.rules.evaluate(few) == []  # two failures are not a rate worth an alert


def test_an_unreachable_orchestrator_or_queue_is_an_alert(tmp_path: Path) -> None:
    book = Book(tmp_path)
    book.clock.advance(10)
    blind = sample(book.clock.time(), {})
    blind["orchestrator"] = {"reachable": False, "error": "the orchestrator is not running"}
    blind["queue"] = {"reachable": False, "error": "queue server not reachable"}
    keys = {c.key for c in book.rules.evaluate(blind)}
    assert keys == {"orchestrator_unreachable", "queue_unreachable"}
    blind["queue"] = {"reachable": False, "error": "disabled"}
    assert {c.key for c in book.rules.evaluate(blind)} == {"orchestrator_unreachable"}


def test_no_backup_folder_means_no_backup_alert(tmp_path: Path) -> None:
    from autonomic.monitor.rules import backup_age_for

    assert backup_age_for(tmp_path / "backups")(1_800_000_000.0) is None
