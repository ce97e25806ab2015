"""Reports checked against seeded samples and events (issue 10): availability of a service that was down
6 of 24 h reads 75 %, the four files are written, and the summary follows its JSON Schema."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jsonschema
import pytest

from autonomic import scaffold
from autonomic.monitor.availability import LOGGED, UNKNOWN, Observation, availability
from autonomic.monitor.run import report_once
from autonomic.monitor.samplelog import SampleLog
from autonomic.monitor.summary import schema
from autonomic.workspace import Workspace
from tests.helpers import free_port
from tests.monitor.support import event, sample, write_lines

DAY = 86400.0


def _workspace(root: Path) -> Workspace:
    workspace = Workspace.at(root)
    scaffold.init(workspace)
    workspace.config_file.write_text(
        f"[queue]\nenabled = false\n[worker]\nenabled = false\n[watchdog]\nenabled = false\n"
        f'[monitor]\ninterval = "60s"\nport = {free_port()}\n'
    )
    return workspace


def test_availability_splits_the_window() -> None:
    seen = [
        Observation(0.0, "running", 30.0),
        Observation(10.0, "backoff", 30.0),
        Observation(20.0, "running", 30.0),
    ]
    share = availability(seen, 0.0, 100.0)
    assert (share.up, share.down, share.unknown) == (
        40.0,
        10.0,
        50.0,
    )  # the last sample holds 30 s, then unknown
    assert share.percent == 80.0


def test_an_orchestrator_start_ends_what_was_known() -> None:
    seen = [
        Observation(0.0, "running", LOGGED),
        Observation(50.0, UNKNOWN, LOGGED),
        Observation(80.0, "running", LOGGED),
    ]
    share = availability(seen, 0.0, 100.0)
    assert (share.up, share.unknown) == (70.0, 30.0)


def test_stopped_on_purpose_is_neither_up_nor_down() -> None:
    share = availability(
        [Observation(0.0, "running", LOGGED), Observation(50.0, "stopped", LOGGED)], 0.0, 100.0
    )
    assert share.percent == 100.0 and share.idle == 50.0


def test_issue10_down_6_of_24_hours_from_the_samples_reads_75_percent(tmp_workspace: Path) -> None:
    workspace = _workspace(tmp_workspace)
    now = time.time()
    log = SampleLog(workspace.metrics_file)
    for i in range(1440):  # one sample a minute for 24 h; web is down from hour 12 to hour 18
        at = now - DAY + 60 * i
        log.append(sample(at, {"web": "backoff" if 720 <= i < 1080 else "running", "db": "running"}))
    summary, files = report_once(workspace)

    assert all(path.exists() for path in files)
    web = next(s for s in summary["services"] if s["name"] == "web") if summary["services"] else None
    assert web is None  # no orchestrator now: the live section is empty, the 24 h numbers are not
    text = files[0].read_text()
    row = next(line for line in text.splitlines() if line.startswith("| web |"))
    share = float(row.split("|")[3].strip().removesuffix(" %"))
    assert abs(share - 75.0) < 0.05, row
    assert "| 6.0 h |" in row  # down
    db_row = next(line for line in text.splitlines() if line.startswith("| db |"))
    assert "| 100.00 % |" in db_row


def test_issue10_down_6_of_24_hours_from_the_event_log_reads_75_percent(tmp_workspace: Path) -> None:
    workspace = _workspace(tmp_workspace)
    now = time.time()
    write_lines(
        workspace.orchestrator_log,
        [
            event(now - DAY - 3600, "start", "orchestrator", "running"),
            event(now - DAY - 1800, "state", "web", "running"),
            event(now - DAY / 2, "state", "web", "backoff", "exited with 1"),
            event(now - DAY / 2 + 1, "restart", "web", "attempting", "exited with 1"),
            event(now - DAY / 4, "state", "web", "running"),
        ],
    )
    _, files = report_once(workspace)
    text = files[0].read_text()
    row = next(line for line in text.splitlines() if line.startswith("| web |"))
    assert "| 75.00 % |" in row, row
    assert "| 1 |" in row  # one restart in 24 h
    assert "web: state backoff exited with 1" in text
    assert "web was up 75.00 % of the last 24 h" in text  # a recommendation that follows from the number


def test_the_summary_follows_its_schema_and_the_latest_sample(tmp_workspace: Path) -> None:
    workspace = _workspace(tmp_workspace)
    SampleLog(workspace.metrics_file).append(sample(time.time() - 30, {"web": "running"}, pending=7))
    _, files = report_once(workspace)
    on_disk = json.loads(files[2].read_text())
    jsonschema.validate(on_disk, schema())
    assert on_disk["schema"] == "autonomic.realtime_summary/1"
    assert on_disk["orchestrator"]["reachable"] is False and "not running" in on_disk["orchestrator"]["error"]
    assert on_disk["queue"] == {"reachable": False, "error": "disabled"}
    html = files[3].read_text()
    assert (
        html.startswith("<!doctype html>")
        and "<svg" in html
        and "<script" not in html
        and "http" not in html.split("<svg")[0]
    )
    perf = files[1].read_text()
    assert "The queue is disabled" in perf
    assert "| pending tasks | 7.0 | 7.0 | 7.0 | 7.0 |" in perf  # the seeded sample's, not invented


def test_reports_are_replaced_atomically(tmp_workspace: Path) -> None:
    workspace = _workspace(tmp_workspace)
    report_once(workspace)
    report_once(workspace)
    leftovers = [p.name for p in workspace.outputs.iterdir() if p.name.endswith(".partial")]
    assert leftovers == []


def test_runs_split_time_exactly_like_one_observation_per_sample() -> None:
    import random

    from autonomic.monitor.events import Event
    from autonomic.monitor.history import History

    chooser = random.Random(10)
    history = History(hold=30.0)
    naive: list[Observation] = []
    at = 1_000_000.0
    for _ in range(2000):
        at += chooser.choice((10.0, 10.0, 10.0, 45.0))  # now and then a gap longer than `hold`
        state = chooser.choice(("running",) * 8 + ("backoff", "stopped"))
        history.add_sample(sample(at, {"web": state}))
        naive.append(Observation(at, state, 30.0))
        if chooser.random() < 0.05:
            changed = Event(at + 3.0, "state", "web", "fatal", "")
            history.add_events([changed])
            naive.append(Observation(changed.at, "fatal", LOGGED))
    fast = history.availability(at + 100.0)["web"]
    slow = availability(naive, at + 100.0 - history.window, at + 100.0)
    assert (fast.up, fast.down, fast.idle, fast.unknown) == pytest.approx(
        (slow.up, slow.down, slow.idle, slow.unknown)
    )
