"""Process records under `.autonomic/pids/`: what we started, so a restarted orchestrator adopts it
instead of starting a second copy. pid + create time, so a recycled pid is never mistaken for ours."""

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
        """The record at `path`; None (and the file removed) when it is unreadable."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls(**raw)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError):
            with contextlib.suppress(OSError):
                path.unlink()
            return None


def remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def load_all(folder: Path) -> dict[str, ProcessRecord]:
    records: dict[str, ProcessRecord] = {}
    for path in sorted(folder.glob("*.json")):
        if record := ProcessRecord.load(path):
            records[record.service] = record
    return records
