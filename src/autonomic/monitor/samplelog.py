"""`SampleLog`: `outputs/system_metrics.jsonl`, one sample a line, rotated daily and kept bounded.

At the first sample of a new local day (or when the file passes a quarter of `max_size`) the file is
gzipped to `system_metrics.YYYY-MM-DD[.N].jsonl.gz`; rotated files older than `keep_days` are deleted,
and the oldest go too while all of them together are over `max_size`.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import re
import shutil
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

_ROTATED = re.compile(r"\.(\d{4}-\d{2}-\d{2})(?:\.(\d+))?\.jsonl\.gz$")


class SampleLog:
    """Appends samples and reads them back in time order across the rotated files."""

    def __init__(self, path: Path, keep_days: int = 14, max_size: int = 50 * 1024 * 1024) -> None:
        self.path = path
        self.keep_days = keep_days
        self.max_size = max_size
        self._day: date | None = None

    def append(self, sample: dict[str, Any]) -> None:
        """Write one sample (it must carry `ts`, epoch seconds), rotating first if its day is new."""
        day = datetime.fromtimestamp(float(sample["ts"])).date()
        current = self._current_day()
        too_big = self._size(self.path) > self.max_size // 4
        if current is not None and (day != current or too_big):
            self.rotate(current, today=day)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(sample, separators=(",", ":"), default=str) + "\n")
        self._day = day

    def rotate(self, day: date, today: date | None = None) -> Path | None:
        """Gzip the current file under `day`'s name, then apply retention as of `today`."""
        if not self.path.exists():
            return None
        target = self._free_name(day)
        partial = target.with_name(target.name + ".partial")
        with open(self.path, "rb") as source, gzip.open(partial, "wb", compresslevel=6) as sink:
            shutil.copyfileobj(source, sink)
        os.replace(partial, target)
        self.path.unlink()
        self._day = None
        self.prune(today or day)
        return target

    def prune(self, today: date) -> list[Path]:
        """Delete rotated files older than `keep_days`, then the oldest while the total is too big."""
        removed: list[Path] = []
        oldest_kept = today - timedelta(days=self.keep_days)
        rotated = self.rotated()
        for day, path in rotated:
            if day < oldest_kept:
                removed.append(path)
        remaining = [(d, p) for d, p in rotated if p not in removed]
        total = self._size(self.path) + sum(self._size(p) for _, p in remaining)
        while remaining and total > self.max_size:
            _, path = remaining.pop(0)
            total -= self._size(path)
            removed.append(path)
        for path in removed:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        return removed

    def rotated(self) -> list[tuple[date, Path]]:
        """The rotated files, oldest first."""
        found: list[tuple[date, int, Path]] = []
        for path in self.path.parent.glob(self.path.stem + ".*.jsonl.gz"):
            match = _ROTATED.search(path.name)
            if match and path.name.startswith(self.path.stem + "."):
                found.append((date.fromisoformat(match.group(1)), int(match.group(2) or 0), path))
        return [(d, p) for d, _, p in sorted(found)]

    def read(self, since: float = 0.0) -> Iterator[dict[str, Any]]:
        """Every readable sample with `ts >= since`, oldest first (a torn or foreign line is skipped)."""
        first_day = datetime.fromtimestamp(since).date() - timedelta(days=1) if since > 0 else date.min
        for day, path in self.rotated():
            if day >= first_day:
                with (
                    contextlib.suppress(OSError, EOFError),
                    gzip.open(path, "rt", encoding="utf-8") as handle,
                ):
                    yield from _parse(handle, since)
        with contextlib.suppress(FileNotFoundError), open(self.path, encoding="utf-8") as handle:
            yield from _parse(handle, since)

    def _current_day(self) -> date | None:
        if self._day is None and self.path.exists():
            self._day = self._first_day()
        return self._day

    def _first_day(self) -> date:
        with (
            contextlib.suppress(OSError, ValueError, KeyError, TypeError),
            open(self.path, encoding="utf-8") as f,
        ):
            return datetime.fromtimestamp(float(json.loads(f.readline())["ts"])).date()
        return datetime.fromtimestamp(self.path.stat().st_mtime).date()

    def _free_name(self, day: date) -> Path:
        stem = f"{self.path.stem}.{day.isoformat()}"
        candidate = self.path.with_name(f"{stem}.jsonl.gz")
        n = 0
        while candidate.exists():
            n += 1
            candidate = self.path.with_name(f"{stem}.{n}.jsonl.gz")
        return candidate

    @staticmethod
    def _size(path: Path) -> int:
        try:
            return path.stat().st_size
        except FileNotFoundError:
            return 0


def _parse(handle: IO[str], since: float) -> Iterator[dict[str, Any]]:
    for line in handle:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("ts"), int | float) and record["ts"] >= since:
            yield record
