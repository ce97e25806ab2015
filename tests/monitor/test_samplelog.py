"""The sample file rotates daily, is kept `keep_days` and stays under `max_size` (issue 10)."""

from __future__ import annotations

import gzip
from datetime import datetime, timedelta
from pathlib import Path

from autonomic.monitor.samplelog import SampleLog
from tests.monitor.support import sample


def _noon(days_ago: int) -> float:
    day = datetime.now().replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=days_ago)
    return day.timestamp()


def test_the_first_sample_of_a_new_day_rotates_the_file(tmp_path: Path) -> None:
    log = SampleLog(tmp_path / "system_metrics.jsonl")
    for hour in range(3):
        log.append(sample(_noon(1) + 3600 * hour, {"web": "running"}))
    log.append(sample(_noon(0), {"web": "running"}))
    rotated = log.rotated()
    assert [d for d, _ in rotated] == [datetime.fromtimestamp(_noon(1)).date()]
    with gzip.open(rotated[0][1], "rt") as handle:
        assert len(handle.readlines()) == 3
    assert len(log.path.read_text().splitlines()) == 1
    assert [round(s["ts"]) for s in log.read()] == [round(_noon(1) + 3600 * h) for h in range(3)] + [
        round(_noon(0))
    ]
    assert [round(s["ts"]) for s in log.read(since=_noon(0) - 1)] == [round(_noon(0))]


def test_files_older_than_keep_days_are_deleted(tmp_path: Path) -> None:
    log = SampleLog(tmp_path / "system_metrics.jsonl", keep_days=3)
    for days_ago in range(8, -1, -1):
        log.append(sample(_noon(days_ago), {}))
    kept = [d for d, _ in log.rotated()]
    today = datetime.now().date()
    assert kept == [today - timedelta(days=n) for n in (3, 2, 1)]


def test_the_files_together_stay_under_max_size(tmp_path: Path) -> None:
    limit = 64 * 1024
    log = SampleLog(tmp_path / "system_metrics.jsonl", keep_days=14, max_size=limit)
    start = _noon(1)
    for i in range(600):  # ~1 KB each: the current file rotates at a quarter of the limit
        log.append(sample(start + i, {f"service-{n}": "running" for n in range(8)}))
    total = sum(p.stat().st_size for p in tmp_path.iterdir())
    assert total <= limit
    assert len(log.rotated()) >= 1
    assert all(p.name.endswith(".jsonl.gz") or p.name == "system_metrics.jsonl" for p in tmp_path.iterdir())


def test_a_torn_line_is_skipped(tmp_path: Path) -> None:
    log = SampleLog(tmp_path / "system_metrics.jsonl")
    log.append(sample(_noon(0), {}))
    with open(log.path, "a") as handle:
        handle.write('{"ts": 1, "half')
    assert len(list(log.read())) == 1
