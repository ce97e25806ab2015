"""What a snapshot holds: the workspace files of each section and where each lands in the snapshot."""

from __future__ import annotations

import fnmatch
import os
import stat
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

from autonomic.backup.errors import os_reason
from autonomic.backup.manifest import Skipped
from autonomic.backup.pattern import matching_files
from autonomic.backup.settings import BackupSettings
from autonomic.workspace import Workspace

CONFIG_FILES = (".env", "autonomic.toml", "config.json", ".vscode/tasks.json", ".vscode/settings.json")
OUTPUT_GLOB = "*_latest.*"
NEVER_FROM_ROOT = (".git", ".autonomic", ".venv", "node_modules")
DAY = 86400.0


class Section(StrEnum):
    CONFIGS = "configs"
    OUTPUTS = "outputs"
    LOGS = "logs"
    STATE = "state"


class Source(NamedTuple):
    """One file to copy: `name` is its path inside the snapshot, `label` where it came from, and its
    size, modification time and mode as stat saw them when it was chosen."""

    section: Section
    name: str
    path: str
    label: str
    size: int
    mtime_ns: int
    mode: int
    database: bool = False  # a live SQLite database: copied through the online backup API


@dataclass
class Selection:
    sources: list[Source]
    skipped: list[Skipped]


class Collector:
    """Walks the workspace once and decides, file by file, what goes into which section."""

    def __init__(
        self, workspace: Workspace, settings: BackupSettings, queue_db: Path | None, now: float
    ) -> None:
        self.workspace = workspace
        self.root = workspace.root
        self.settings = settings
        self.queue_db = queue_db
        self.since = now - settings.log_days * DAY
        self.selection = Selection([], [])
        self._names: dict[str, str] = {}
        self._root = str(self.root)
        target = settings.target(workspace.root).resolve()
        inside = target.is_relative_to(self.root)
        self._target_rel = target.relative_to(self.root).as_posix() if inside else None

    def collect(self) -> Selection:
        self._configs()
        self._outputs()
        self._logs()
        self._state()
        return self.selection

    def _configs(self) -> None:
        for rel in CONFIG_FILES:
            self._add(Section.CONFIGS, rel, self.root / rel, missing_ok=True)
        for pattern in self.settings.include:
            matches = matching_files(self.root, pattern, self._outside_scope)
            if not matches:
                self._skip(pattern, "include glob matched nothing")
            for rel, info in matches:
                if not self._outside_scope(rel):
                    self._add(Section.CONFIGS, rel, os.path.join(self._root, rel), label=rel, info=info)

    def _outputs(self) -> None:
        for path in sorted(self.workspace.outputs.glob(OUTPUT_GLOB)):
            self._add(Section.OUTPUTS, path.name, path, folders_ok=True)

    def _logs(self) -> None:
        outputs = self.workspace.outputs
        for path in sorted([*outputs.glob("*.jsonl"), *outputs.glob("*.jsonl.[0-9]*")]):
            self._add(Section.LOGS, path.name, path, folders_ok=True, recent=True)
        for path in sorted(self.workspace.logs.rglob("*")):
            rel = path.relative_to(self.workspace.logs).as_posix()
            self._add(Section.LOGS, rel, path, folders_ok=True, recent=True)

    def _state(self) -> None:
        if self.queue_db is not None:
            if self.queue_db.is_file():
                self._add(Section.STATE, self.queue_db.name, self.queue_db, database=True)
            else:
                self._skip(self._label(self.queue_db), "no queue database yet")
        for path in (self.workspace.upgrade_state, self.workspace.token_file):
            self._add(Section.STATE, path.name, path, missing_ok=True)

    def _add(
        self,
        section: Section,
        rel: str,
        path: Path | str,
        *,
        database: bool = False,
        missing_ok: bool = False,
        folders_ok: bool = False,
        recent: bool = False,
        label: str | None = None,
        info: os.stat_result | None = None,
    ) -> None:
        label = label or self._label(Path(path))
        try:
            info = info or os.stat(path)
        except OSError as exc:
            if not (missing_ok and isinstance(exc, FileNotFoundError)):
                self._skip(label, f"could not be read: {os_reason(exc)}")
            return
        if not stat.S_ISREG(info.st_mode):
            if not folders_ok:
                self._skip(label, "not a regular file")
            return
        if str(path).endswith(".partial") or (recent and info.st_mtime < self.since):
            return  # an atomic write in flight; a log older than log_days
        name = f"{section.value}/{rel}"
        if self._excluded(label):
            self._skip(label, "excluded by [backup] exclude")
        elif name in self._names:
            if self._names[name] != str(path):
                self._skip(label, f"another file is already stored as {name}")
        elif info.st_size > self.settings.max_file_size and not database:
            limit = self.settings.max_file_size
            self._skip(label, f"larger than [backup] max_file_size ({info.st_size} > {limit} bytes)")
        else:
            self._names[name] = str(path)
            mode = stat.S_IMODE(info.st_mode)
            source = Source(section, name, str(path), label, info.st_size, info.st_mtime_ns, mode, database)
            self.selection.sources.append(source)

    def _skip(self, label: str, reason: str) -> None:
        self.selection.skipped.append(Skipped(label, reason))

    def _label(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def _excluded(self, label: str) -> bool:
        base = label.rsplit("/", 1)[-1]
        return any(
            fnmatch.fnmatchcase(label, pattern) or ("/" not in pattern and fnmatch.fnmatchcase(base, pattern))
            for pattern in self.settings.exclude
        )

    def _outside_scope(self, rel: str) -> bool:
        """Include globs never reach into the backups themselves, runtime state, git or environments."""
        target = self._target_rel
        if target is not None and (rel == target or rel.startswith(target + "/")):
            return True
        return rel.split("/", 1)[0] in NEVER_FROM_ROOT


def queue_database(workspace: Workspace, store: str | None) -> Path | None:
    """The queue's SQLite file for `[queue] store` (None: the default under .autonomic/)."""
    if store is None:
        return workspace.queue_db
    if not store.startswith("sqlite:///") or len(store) == len("sqlite:///"):
        return None
    path = Path(store.removeprefix("sqlite:///"))
    return path if path.is_absolute() else workspace.root / path
