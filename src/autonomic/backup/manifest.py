"""`MANIFEST.json`: every file of a snapshot with its size and sha256, plus what was skipped and why.

A snapshot folder is complete exactly when its manifest is there: the manifest is the last file
written before the folder is renamed into place. `VERIFY.json` beside it records the last `verify`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from autonomic import atomic
from autonomic.errors import StateError

MANIFEST_NAME = "MANIFEST.json"
VERIFY_NAME = "VERIFY.json"
FORMAT = 1


class FileEntry(NamedTuple):
    """One file in a snapshot; `source` is where it came from (relative to the workspace when inside it).
    (A named tuple: a manifest holds one per file, read and built by the ten thousand.)"""

    size: int
    sha256: str
    source: str
    mtime_ns: int
    mode: int = 0o600


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str


@dataclass
class Manifest:
    id: str
    created: float  # epoch seconds at the start of the run
    finished: float
    workspace: str
    reason: str = "manual"  # manual | scheduled | overdue | pre-restore
    files: dict[str, FileEntry] = field(default_factory=dict)  # key: path inside the snapshot (posix)
    skipped: list[Skipped] = field(default_factory=list)
    new_bytes: int = 0  # bytes written by this run (the rest is hard-linked to earlier snapshots)
    checked: bool = True  # every new file was read back and matched its checksum before the rename

    @property
    def total_bytes(self) -> int:
        return sum(entry.size for entry in self.files.values())

    def summary(self) -> dict[str, Any]:
        """Everything but the file list."""
        return {
            "format": FORMAT,
            "id": self.id,
            "created": self.created,
            "finished": self.finished,
            "workspace": self.workspace,
            "reason": self.reason,
            "file_count": len(self.files),
            "total_bytes": self.total_bytes,
            "new_bytes": self.new_bytes,
            "checked": self.checked,
            "skipped": [asdict(item) for item in self.skipped],
        }

    def to_json(self) -> dict[str, Any]:
        files = {path: entry._asdict() for path, entry in sorted(self.files.items())}
        return {**self.summary(), "files": files}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Manifest:
        if raw.get("format") != FORMAT:
            raise ValueError(f"unknown manifest format {raw.get('format')!r}")
        return cls(
            id=str(raw["id"]),
            created=float(raw["created"]),
            finished=float(raw["finished"]),
            workspace=str(raw["workspace"]),
            reason=str(raw.get("reason", "manual")),
            files={str(p): FileEntry(**e) for p, e in raw["files"].items()},
            skipped=[Skipped(**item) for item in raw.get("skipped", [])],
            new_bytes=int(raw.get("new_bytes", 0)),
            checked=bool(raw.get("checked", False)),
        )

    def write(self, folder: Path) -> None:
        atomic.write_text(folder / MANIFEST_NAME, self.to_text())

    def to_text(self) -> str:
        """The manifest as JSON with one line per file: readable in any pager, quick for 10,000 files."""
        raw = self.summary()
        quote = json.encoder.encode_basestring_ascii  # what json.dumps does to a str, minus its overhead
        lines = [
            f'{quote(path)}:{{"size":{e.size},"sha256":{quote(e.sha256)},"source":{quote(e.source)},'
            f'"mtime_ns":{e.mtime_ns},"mode":{e.mode}}}'
            for path, e in sorted(self.files.items())
        ]
        head = json.dumps(raw, separators=(",", ":"))[:-1]
        return head + ',"files":{\n' + ",\n".join(lines) + "\n}}\n"

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST_NAME
        try:
            return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise StateError(f"{folder}: no {MANIFEST_NAME}; not a complete snapshot") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StateError(f"{path}: unreadable manifest ({exc})") from None


@dataclass(frozen=True)
class VerifyRecord:
    """The outcome of the last `backup verify` of one snapshot."""

    at: float
    ok: bool
    checked: int
    problems: list[str]

    def write(self, folder: Path) -> None:
        atomic.write_json(folder / VERIFY_NAME, asdict(self))

    @classmethod
    def read(cls, folder: Path) -> VerifyRecord | None:
        try:
            raw = json.loads((folder / VERIFY_NAME).read_text(encoding="utf-8"))
            return cls(float(raw["at"]), bool(raw["ok"]), int(raw["checked"]), list(raw["problems"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None
