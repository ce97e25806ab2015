"""The git state of a workspace: where it stands (`git_state.json`) and its uncommitted work (a patch).

Remote URLs are stored without credentials. The patch is `git diff --binary HEAD` with fixed
prefixes and no external diff or textconv, so `git apply` re-creates the uncommitted changes of
tracked files on a clean checkout of the recorded HEAD.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

GIT_TIMEOUT = 60.0


class GitUnavailable(Exception):
    """Not a repository, no git, or git failed: the reason goes into the manifest's skipped list."""


@dataclass(frozen=True)
class GitCapture:
    state: dict[str, Any]
    patch: bytes


def capture(root: Path, timeout: float = GIT_TIMEOUT) -> GitCapture:
    """Read the git state of the repository holding `root`; GitUnavailable if there is none."""
    git = _Git(root, timeout)
    toplevel = git.maybe("rev-parse", "--show-toplevel")
    if toplevel is None:
        raise GitUnavailable("not a git repository")
    head = git.maybe("rev-parse", "-q", "--verify", "HEAD")
    upstream = git.maybe("rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}")
    state: dict[str, Any] = {
        "toplevel": toplevel,
        "branch": git.maybe("symbolic-ref", "--short", "-q", "HEAD"),
        "head": head,
        "upstream": upstream,
        **_ahead_behind(git, upstream),
        "remotes": _remotes(git),
        "status_porcelain": git.lines("status", "--porcelain=v1", "--untracked-files=all"),
        "stash": git.lines("stash", "list"),
        "untracked": [
            p for p in git.text("ls-files", "--others", "--exclude-standard", "-z").split("\0") if p
        ],
    }
    diff = [
        "diff",
        "--binary",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--src-prefix=a/",
        "--dst-prefix=b/",
    ]
    patch = git.run(*diff, "HEAD") if head else git.run(*diff, "--cached")
    state["patch_base"] = head or "(no commit yet: staged changes only)"
    return GitCapture(state, patch)


def strip_credentials(url: str) -> str:
    """`https://user:token@host/x.git` -> `https://host/x.git`; scp-style `git@host:x.git` stays."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.scheme or "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _ahead_behind(git: _Git, upstream: str | None) -> dict[str, int | None]:
    if upstream is None:
        return {"ahead": None, "behind": None}
    counts = git.maybe("rev-list", "--left-right", "--count", "HEAD...@{upstream}")
    if counts is None or len(counts.split()) != 2:
        return {"ahead": None, "behind": None}
    ahead, behind = counts.split()
    return {"ahead": int(ahead), "behind": int(behind)}


def _remotes(git: _Git) -> dict[str, dict[str, str]]:
    remotes: dict[str, dict[str, str]] = {}
    for line in git.lines("remote", "-v"):
        fields = line.split()
        if len(fields) == 3:
            name, url, kind = fields
            remotes.setdefault(name, {})[kind.strip("()")] = strip_credentials(url)
    return remotes


class _Git:
    def __init__(self, root: Path, timeout: float) -> None:
        executable = shutil.which("git")
        if executable is None:
            raise GitUnavailable("git is not installed")
        self.argv = [executable, "-C", str(root), "-c", "core.quotepath=off", "--no-pager"]
        self.timeout = timeout
        self.env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"}

    def run(self, *args: str) -> bytes:
        result = self._call(args)
        if result.returncode != 0:
            message = result.stderr.decode("utf-8", "replace").strip().splitlines()
            raise GitUnavailable(f"git {args[0]} failed: {message[-1] if message else result.returncode}")
        return result.stdout

    def text(self, *args: str) -> str:
        return self.run(*args).decode("utf-8", "replace").strip()

    def maybe(self, *args: str) -> str | None:
        """The output, or None when git says no (no upstream, detached HEAD, no commit yet)."""
        result = self._call(args)
        if result.returncode != 0:
            return None
        return result.stdout.decode("utf-8", "replace").strip() or None

    def lines(self, *args: str) -> list[str]:
        return [line for line in self.run(*args).decode("utf-8", "replace").splitlines() if line]

    def _call(self, args: tuple[str, ...]) -> subprocess.CompletedProcess[bytes]:
        try:
            return subprocess.run(
                [*self.argv, *args],
                capture_output=True,
                timeout=self.timeout,
                env=self.env,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise GitUnavailable(f"git {args[0]} did not finish within {self.timeout:g}s") from None
        except OSError as exc:
            raise GitUnavailable(f"cannot run git: {exc.strerror or exc}") from None
