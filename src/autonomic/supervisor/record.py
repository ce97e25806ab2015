"""Process records under `.autonomic/pids/`: what we started, so a restarted orchestrator adopts it
instead of starting a second copy. pid + create time, so a recycled pid is never mistaken for ours.

A record that cannot be read is reported (`Records.damaged`), never silently dropped: the process it
named is then found by its environment mark (see `markers`)."""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from autonomic import atomic
from autonomic.platform.base import is_alive


@dataclass(frozen=True)
class ProcessRecord:
    service: str
    pid: int
    create_time: float
    argv: list[str]
    started_at: float
    spec_hash: str = ""
    restarts: int = 0

    def is_live(self) -> bool:
        """The recorded process still runs: same pid, same create time, not a zombie."""
        return is_alive(self.pid, self.create_time)

    def save(self, path: Path) -> None:
        atomic.write_json(path, asdict(self))

    @classmethod
    def load(cls, path: Path) -> ProcessRecord | None:
        """The record at `path`; None when there is none or it cannot be used (it is left in place:
        `scan` reports it)."""
        try:
            return cls.read(path)
        except DamagedRecord:
            return None

    @classmethod
    def read(cls, path: Path) -> ProcessRecord | None:
        """The record at `path`; None when there is none. DamagedRecord when it cannot be used."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise DamagedRecord(getattr(exc, "strerror", None) or str(exc)) from None
        if not text.strip():
            raise DamagedRecord("empty")
        try:
            raw = json.loads(text)
            record = cls(**raw)
            if not isinstance(record.pid, int) or not isinstance(record.create_time, int | float):
                raise TypeError("pid or create_time of the wrong type")
        except ValueError:
            raise DamagedRecord("not JSON") from None
        except TypeError as exc:
            raise DamagedRecord(f"not a process record ({exc})") from None
        return record


class DamagedRecord(ValueError):
    """A process record that exists but cannot be used (garbled, empty, a folder)."""


@dataclass
class Records:
    """What `.autonomic/pids/` holds: usable records by service, and damaged ones by service with why."""

    found: dict[str, ProcessRecord]
    damaged: dict[str, str]


def remove(path: Path) -> None:
    """Delete a record; a missing one is fine. OSError when it cannot be deleted (read-only folder)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def load_all(folder: Path) -> dict[str, ProcessRecord]:
    return scan(folder).found


def scan(folder: Path) -> Records:
    result = Records({}, {})
    try:
        paths = sorted(folder.glob("*.json"))
    except OSError:
        return result
    for path in paths:
        try:
            if record := ProcessRecord.read(path):
                result.found[record.service] = record
        except DamagedRecord as exc:
            result.damaged[path.stem] = f"{path.name}: {exc}"
    return result
