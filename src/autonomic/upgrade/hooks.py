"""Git hooks (`post-merge`, `post-checkout`, `post-rewrite`) that start an upgrade check after a pull,
a branch switch or a rebase. A hook the user already has is kept (renamed `<hook>.chained`) and run
first, with the same arguments and input, and its exit status is what git sees."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from autonomic import atomic
from autonomic import platform as platforms
from autonomic.upgrade.errors import UpgradeRefused
from autonomic.upgrade.repository import ACTIVE_ENV, Repository
from autonomic.workspace import Workspace

HOOKS = ("post-merge", "post-checkout", "post-rewrite")
MARKER = "# autonomic-upgrade-hook"
CHAINED = ".chained"

_TEMPLATE = """#!/bin/sh
{marker} (written by `autonomic upgrade install-hooks`; `autonomic upgrade uninstall-hooks` removes it)
# Runs the hook you had before (kept as {name}{chained}) first, then starts an upgrade check in the
# background for the workspace below; `git` sees your hook's exit status.
status=0
if [ -x "$0{chained}" ]; then
    "$0{chained}" "$@" || status=$?
fi
{skip}if [ "${active}" != "1" ]; then
    "{python}" -m autonomic upgrade check --background --workspace "{root}" || true
fi
exit $status
"""


@dataclass
class HookReport:
    installed: list[Path] = field(default_factory=list)
    chained: list[Path] = field(default_factory=list)  # the user's own hooks, kept and run first
    removed: list[Path] = field(default_factory=list)
    restored: list[Path] = field(default_factory=list)


def install(workspace: Workspace, python: str | None = None) -> HookReport:
    """Write our hooks (replacing older ones of ours), keeping and chaining any the user has."""
    repo = _repo(workspace)
    folder = repo.hooks_dir()
    folder.mkdir(parents=True, exist_ok=True)
    report = HookReport()
    for name in HOOKS:
        path = folder / name
        if path.exists() and not _ours(path):
            chained = path.with_name(name + CHAINED)
            if chained.exists():
                raise UpgradeRefused(
                    f"{path} is not ours and {chained.name} exists too; merge them by hand first"
                )
            os.replace(path, chained)
            report.chained.append(chained)
        atomic.write_text(path, _script(name, workspace, python or sys.executable), 0o755)
        report.installed.append(path)
    return report


def uninstall(workspace: Workspace) -> HookReport:
    """Remove our hooks and put back the user's own under their names."""
    repo = _repo(workspace)
    folder = repo.hooks_dir()
    report = HookReport()
    for name in HOOKS:
        path = folder / name
        if path.exists() and _ours(path):
            path.unlink()
            report.removed.append(path)
        chained = path.with_name(name + CHAINED)
        if chained.exists() and not path.exists():
            os.replace(chained, path)
            report.restored.append(path)
    return report


def installed(workspace: Workspace) -> list[str]:
    """The names of our hooks present in the workspace's repository."""
    repo = Repository.find(workspace.root)
    if repo is None:
        return []
    folder = repo.hooks_dir()
    return [name for name in HOOKS if (folder / name).exists() and _ours(folder / name)]


def start_detached(workspace: Workspace, command: str = "check") -> int:
    """Start `autonomic upgrade COMMAND` in its own session (so `git pull` returns at once, and a job
    that starts it may end without taking it along); its output goes to logs/upgrade.log. Its pid."""
    workspace.logs.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "autonomic", "upgrade", command, "--workspace", str(workspace.root)]
    env = {k: v for k, v in os.environ.items() if k != ACTIVE_ENV and not k.startswith("GIT_")}
    with open(workspace.service_log("upgrade"), "ab") as log:
        process = subprocess.Popen(
            argv,
            cwd=workspace.root,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=env,
            **platforms.current().detached_popen_kwargs(),
        )
    return process.pid


def _script(name: str, workspace: Workspace, python: str) -> str:
    # post-checkout's third argument is 0 for a checkout of files (not of a branch): nothing moved
    skip = 'if [ "$3" = "0" ]; then exit $status; fi\n' if name == "post-checkout" else ""
    return _TEMPLATE.format(
        marker=MARKER,
        name=name,
        chained=CHAINED,
        skip=skip,
        active="{" + ACTIVE_ENV + ":-}",
        python=_sh_path(python),
        root=_sh_path(str(workspace.root)),
    )


def _sh_path(path: str) -> str:
    """A path for a double-quoted sh string (git runs hooks with sh, on Windows too)."""
    path = path.replace("\\", "/")
    for char in ('"', "$", "`"):
        path = path.replace(char, "\\" + char)
    return path


def _ours(path: Path) -> bool:
    with contextlib.suppress(OSError), open(path, "rb") as handle:
        return MARKER.encode() in handle.read(4096)
    return False


def _repo(workspace: Workspace) -> Repository:
    repo = Repository.find(workspace.root)
    if repo is None:
        raise UpgradeRefused(f"{workspace.root} is not in a git repository: no hooks to install")
    return repo
