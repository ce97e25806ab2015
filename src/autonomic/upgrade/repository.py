"""The git repository a workspace lives in: HEAD, the diff between two commits, a safe reset, a
fast-forward pull. Every call is bounded and never prompts; mode-only changes (our own `chmod +x`)
never count as local changes."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from autonomic.upgrade.errors import UpgradeError, UpgradeRefused

ACTIVE_ENV = "AUTONOMIC_UPGRADE_ACTIVE"
"""Set in the environment of every git command we run, so our hooks do not react to our own pulls."""

_GIT_TIMEOUT = 60.0
_FETCH_TIMEOUT = 300.0


@dataclass(frozen=True)
class Change:
    """One path that differs between two commits. `status` is git's letter: A, M, D, T."""

    status: str
    path: str  # relative to the repository's top folder, with "/" separators

    @property
    def removed(self) -> bool:
        return self.status == "D"


class Repository:
    """A git work tree, driven through the `git` command."""

    def __init__(self, top: Path) -> None:
        self.top = top

    @classmethod
    def find(cls, folder: Path) -> Repository | None:
        """The repository `folder` is inside, or None when it is not in one (or git is missing)."""
        try:
            done = _git(folder, "rev-parse", "--show-toplevel", check=False)
        except UpgradeError:
            return None
        if done.returncode != 0:
            return None
        return cls(Path(done.stdout.strip()).resolve())

    def run(self, *args: str, timeout: float = _GIT_TIMEOUT) -> str:
        """Run one git command in the work tree; UpgradeError with git's own message when it fails."""
        return _git(self.top, *args, timeout=timeout).stdout

    def head(self) -> str | None:
        """The commit HEAD points at, or None on a branch with no commit yet."""
        done = _git(self.top, "rev-parse", "--verify", "-q", "HEAD^{commit}", check=False)
        return (done.stdout.strip() or None) if done.returncode == 0 else None

    def has_commit(self, commit: str) -> bool:
        return _git(self.top, "cat-file", "-e", f"{commit}^{{commit}}", check=False).returncode == 0

    def changes(self, old: str, new: str) -> list[Change]:
        """Every path that differs between `old` and `new` (a rename is a removal plus an addition)."""
        out = self.run("diff", "--name-status", "--no-renames", "-z", old, new)
        fields = out.split("\0")
        return [Change(fields[i][0], fields[i + 1]) for i in range(0, len(fields) - 1, 2) if fields[i]]

    def show(self, commit: str, path: str) -> bytes | None:
        """The content of `path` at `commit`, or None when it does not exist there."""
        done = subprocess.run(
            ["git", "show", f"{commit}:{path}"], cwd=self.top, capture_output=True, env=_env(), timeout=30
        )
        return done.stdout if done.returncode == 0 else None

    def local_changes(self) -> list[str]:
        """Tracked files changed in the work tree or the index (mode-only changes do not count)."""
        out = self.run("-c", "core.fileMode=false", "status", "--porcelain", "--untracked-files=no")
        return [line[3:] for line in out.splitlines() if line.strip()]

    def reset_keep(self, commit: str) -> None:
        """Move HEAD (and the files that differ) back to `commit`; git refuses, and nothing changes, if
        that would discard a local change."""
        self.run("-c", "core.fileMode=false", "reset", "--keep", commit)

    def pull_fast_forward(self) -> tuple[str | None, str | None]:
        """Fetch, then merge the upstream branch only if that is a fast-forward. Refuses a dirty tree, a
        detached HEAD, a branch with no upstream, and a diverged branch. Returns (old HEAD, new HEAD)."""
        if dirty := self.local_changes():
            raise UpgradeRefused(f"the work tree has local changes ({', '.join(dirty[:3])}); not pulling")
        upstream = _git(self.top, "rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{u}", check=False)
        if upstream.returncode != 0:
            raise UpgradeRefused("the current branch has no upstream (or HEAD is detached); not pulling")
        before = self.head()
        self.run("fetch", "--quiet", timeout=_FETCH_TIMEOUT)
        target = self.run("rev-parse", "@{u}").strip()
        if before is not None and not self.is_ancestor(before, target):
            if self.is_ancestor(target, before):
                return before, before  # ahead of upstream: nothing to pull
            raise UpgradeRefused(f"the branch has diverged from {upstream.stdout.strip()}; not pulling")
        self.run("merge", "--ff-only", "--quiet", target)
        return before, self.head()

    def is_ancestor(self, old: str, new: str) -> bool:
        return _git(self.top, "merge-base", "--is-ancestor", old, new, check=False).returncode == 0

    def operation_in_progress(self) -> str | None:
        """The git operation under way (a merge, rebase, cherry-pick, revert, bisect), or None."""
        markers = {
            "rebase-merge": "rebase",
            "rebase-apply": "rebase",
            "MERGE_HEAD": "merge",
            "CHERRY_PICK_HEAD": "cherry-pick",
            "REVERT_HEAD": "revert",
            "BISECT_LOG": "bisect",
        }
        paths = self.run("rev-parse", *(arg for name in markers for arg in ("--git-path", name))).splitlines()
        for (name, label), path in zip(markers.items(), paths, strict=False):
            if (self.top / path).exists():
                return f"{label} ({name})"
        return None

    def hooks_dir(self) -> Path:
        """Where git looks for hooks here (honours core.hooksPath)."""
        return (self.top / self.run("rev-parse", "--git-path", "hooks").strip()).resolve()

    def relative(self, path: Path) -> str:
        """`path` relative to the top folder, with "/" separators ("" for the top itself)."""
        rel = path.resolve().relative_to(self.top).as_posix()
        return "" if rel == "." else rel


def _env() -> dict[str, str]:
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", ACTIVE_ENV: "1"}


def _git(
    cwd: Path, *args: str, timeout: float = _GIT_TIMEOUT, check: bool = True
) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            env=_env(),
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise UpgradeError("git is not installed (or not on PATH)") from None
    except subprocess.TimeoutExpired:
        raise UpgradeError(f"git {_verb(args)} did not finish within {timeout:g}s") from None
    except NotADirectoryError:
        raise UpgradeError(f"{cwd} is not a folder") from None
    if check and done.returncode != 0:
        message = (done.stderr.strip() or done.stdout.strip()).splitlines()
        raise UpgradeError(f"git {_verb(args)} failed: {' '.join(message[-2:])}")
    return done


def _verb(args: tuple[str, ...]) -> str:
    words = list(args)
    while words and words[0] == "-c":
        words = words[2:]
    return words[0] if words else "git"
