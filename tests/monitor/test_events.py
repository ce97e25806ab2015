"""`EventTail` reads the orchestrator's log incrementally: new lines only, a half-written line later,
the `.1` file on the first read, and a fresh file after rotation."""

from __future__ import annotations

import os
import time
from pathlib import Path

from autonomic.monitor.events import EventTail
from tests.monitor.support import event


def test_the_tail_reads_what_is_new_and_waits_for_half_lines(tmp_path: Path) -> None:
    log = tmp_path / "master_orchestrator_log.jsonl"
    now = time.time()
    (tmp_path / "master_orchestrator_log.jsonl.1").write_text(
        event(now - 50, "state", "web", "running") + "\n"
    )
    log.write_text(
        event(now - 40, "check", "web", "ok") + "\n" + event(now - 30, "state", "web", "backoff") + "\n"
    )
    tail = EventTail(log)
    assert [(e.target, e.status) for e in tail.read()] == [("web", "running"), ("web", "backoff")]
    assert tail.read() == []
    half = event(now - 20, "state", "web", "running")
    with open(log, "a") as handle:
        handle.write(half[:20])
    assert tail.read() == []
    with open(log, "a") as handle:
        handle.write(half[20:] + "\n")
    assert [e.status for e in tail.read()] == ["running"]
    os.replace(log, tmp_path / "master_orchestrator_log.jsonl.1")
    log.write_text(event(now - 10, "restart", "web", "attempting") + "\n")
    assert [(e.action, e.status) for e in tail.read()] == [("restart", "attempting")]
