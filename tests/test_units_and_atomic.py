import os
import stat
from pathlib import Path

import pytest

from autonomic import atomic
from autonomic.units import format_duration, parse_duration, parse_size


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("250ms", 0.25), ("30s", 30), ("5m", 300), ("1h", 3600), ("2d", 172800), (7, 7.0), ("1.5", 1.5)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["soon", "-1s", "5 minutes", True, None, "1w"])
def test_bad_durations_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_sizes_and_formatting() -> None:
    assert parse_size("1MiB") == 1024**2 and parse_size("10MB") == 10**7 and parse_size(512) == 512
    with pytest.raises(ValueError):
        parse_size("big")
    assert [format_duration(s) for s in (5, 125, 3 * 3600 + 300, 2 * 86400 + 4 * 3600)] == [
        "5s",
        "2m05s",
        "3h05m",
        "2d04h",
    ]


def test_atomic_write_replaces_whole_files_privately_and_leaves_no_partials(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    atomic.write_json(target, {"a": 1})
    atomic.write_json(target, {"a": 2})
    assert target.read_text().strip().endswith("}") and '"a": 2' in target.read_text()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["state.json"]


def test_a_write_that_fails_before_the_rename_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "state.json"
    atomic.write_json(target, {"ok": True})

    def full_disk(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError, match="No space"):
        atomic.write_json(target, {"ok": False})
    assert '"ok": true' in target.read_text()
    assert os.listdir(tmp_path) == ["state.json"]  # the partial file was removed
