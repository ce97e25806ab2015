"""`shell`: run a command that matches `[worker].shell_commands` (capability "shell").

`data = {"command": "git status --short" | ["git", "status"], "cwd": "sub/dir", "input": "...",
"env": {...}}`. No shell is involved: the command line is split into an argv and executed directly,
so `;`, `|` and `$(...)` are plain characters. The allow-list patterns are globs matched against the
whole command line as `shlex.join` writes it. A non-zero exit fails the task; on timeout the whole
process group is killed.
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
import shlex
from pathlib import Path
from typing import Any

from autonomic import platform
from autonomic.worker.context import TaskContext
from autonomic.worker.outcome import Data, TaskFailed

MAX_OUTPUT = 64 * 1024


def command_allowed(argv: list[str], patterns: list[str]) -> bool:
    """True when the command line matches one of the allow-list globs."""
    line = shlex.join(argv)
    return any(fnmatch.fnmatchcase(line, pattern) for pattern in patterns)


async def shell(ctx: TaskContext) -> Data:
    """Run the allowed command and report its exit code and (cut) output."""
    argv = _argv(ctx.data.get("command"))
    if not command_allowed(argv, ctx.settings.shell_commands):
        raise TaskFailed(f"command not allowed by [worker].shell_commands: {shlex.join(argv)}")
    stdin = ctx.data.get("input")
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=_cwd(ctx),
            env=_env(ctx.data.get("env")),
            **platform.current().detached_popen_kwargs(),
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise TaskFailed(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
    try:
        out, err = await process.communicate(str(stdin).encode() if stdin is not None else None)
    except asyncio.CancelledError:
        _kill_group(process)
        await process.wait()  # reap it, so nothing of it outlives the task
        raise
    result = {"command": argv, "exit_code": process.returncode, "stdout": _cut(out), "stderr": _cut(err)}
    if process.returncode != 0:
        raise TaskFailed(f"exit code {process.returncode}", result)
    return result


def _argv(command: Any) -> list[str]:
    if isinstance(command, str):
        argv = shlex.split(command)
    elif isinstance(command, list) and all(isinstance(part, str) for part in command):
        argv = list(command)
    else:
        raise TaskFailed("command must be a string or a list of strings")
    if not argv:
        raise TaskFailed("command is empty")
    return argv


def _cwd(ctx: TaskContext) -> Path:
    raw = ctx.data.get("cwd")
    if raw is None:
        return ctx.workspace.root
    if not isinstance(raw, str) or ".." in Path(raw).parts:
        raise TaskFailed("cwd must be a folder inside the workspace (no '..')")
    folder = (ctx.workspace.root / raw).resolve()
    if not folder.is_relative_to(ctx.workspace.root) or not folder.is_dir():
        raise TaskFailed(f"cwd {raw!r} is not a folder inside the workspace")
    return folder


def _env(extra: Any) -> dict[str, str]:
    if extra is None:
        return dict(os.environ)
    if not isinstance(extra, dict):
        raise TaskFailed("env must be an object")
    return {**os.environ, **{str(k): str(v) for k, v in extra.items()}}


def _kill_group(process: asyncio.subprocess.Process) -> None:
    platform.current().kill_group(process.pid)


def _cut(raw: bytes) -> str:
    text = raw[:MAX_OUTPUT].decode("utf-8", errors="replace")
    return text + "\n[output cut]" if len(raw) > MAX_OUTPUT else text
