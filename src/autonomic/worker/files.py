"""Where tasks may read and write files: outputs/ and the folders the config adds, nothing else."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path, PurePath

from autonomic.worker.outcome import TaskFailed
from autonomic.workspace import Workspace


@dataclass(frozen=True)
class FileGuard:
    """Resolves the paths tasks name, refusing any that would land outside the allowed folders.

    A relative path starting with `outputs/` (the original's default) is taken from the workspace root;
    any other relative path is placed under outputs/. `..` is refused outright, and an absolute path
    (or a symlink) must end up inside outputs/ or one of `[worker].file_dirs`.
    """

    root: Path
    outputs: Path
    extra: tuple[Path, ...] = ()

    @classmethod
    def for_workspace(cls, workspace: Workspace, file_dirs: list[str]) -> FileGuard:
        extra = tuple((workspace.root / Path(d).expanduser()).resolve() for d in file_dirs)
        return cls(root=workspace.root, outputs=workspace.outputs.resolve(), extra=extra)

    @property
    def allowed(self) -> tuple[Path, ...]:
        return (self.outputs, *self.extra)

    def resolve(self, raw: str | None, default_name: str | None = None) -> Path:
        """The absolute path for `raw` (or outputs/`default_name`), or `TaskFailed` if it would escape."""
        if not raw:
            if default_name is None:
                raise TaskFailed("a file path is required")
            raw = f"outputs/{default_name}"
        given = PurePath(raw)
        if ".." in given.parts:
            raise TaskFailed(f"{raw}: '..' is not allowed in a path")
        if given.is_absolute():
            candidate = Path(given)
        elif given.parts[0] == "outputs":
            candidate = self.root / given
        else:
            candidate = self.outputs / given
        resolved = candidate.resolve()
        if not any(resolved.is_relative_to(folder) for folder in self.allowed):
            raise TaskFailed(f"{raw}: outside the allowed folders (outputs/ and [worker].file_dirs)")
        return resolved

    def writable(self, raw: str | None, default_name: str | None = None) -> Path:
        """Like `resolve`, and creates the parent folder."""
        path = self.resolve(raw, default_name)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def readable(self, raw: str | None) -> Path:
        """Like `resolve`, for a file that must already exist."""
        path = self.resolve(raw)
        if not path.is_file():
            raise TaskFailed(f"{raw}: no such file")
        return path

    def relative(self, path: Path) -> str:
        """How a result names a file: relative to the workspace when inside it (as the original did)."""
        return path.relative_to(self.root).as_posix() if path.is_relative_to(self.root) else str(path)


_sequence = itertools.count(1)


def stamped(prefix: str, suffix: str = ".png") -> str:
    """A file name like `screenshot_20250101_120000_123_7.png`: sortable, unique within this process."""
    now = time.time()
    stamp = time.strftime("%Y%m%d_%H%M%S", time.localtime(now))
    return f"{prefix}_{stamp}_{int(now * 1000) % 1000:03d}_{next(_sequence)}{suffix}"
