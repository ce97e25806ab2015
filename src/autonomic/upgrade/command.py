"""One install command of an upgrade (pip, npm): run bounded in its own process group, its output
appended to `logs/upgrade.log`, its exit code and duration returned (never assumed)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from autonomic import platform
from autonomic.upgrade.repository import ACTIVE_ENV

_TAIL_LINES = 3


@dataclass(frozen=True)
class CommandResult:
    exit_code: int | None  # None: it could not start, or was killed at its timeout
    seconds: float
    tail: str  # the last lines of its output, for the log when it failed

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def run(argv: list[str], cwd: str, timeout: float, output: Path) -> CommandResult:
    """Run `argv` in `cwd`; its output goes to `output`. Killed (with its children) after `timeout`."""
    output.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with open(output, "ab") as log:
        log.write(f"===== {time.strftime('%Y-%m-%dT%H:%M:%S%z')} {' '.join(argv)} (in {cwd})\n".encode())
        log.flush()
        offset = log.tell()
        try:
            process = subprocess.Popen(
                argv,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_env(),
                **platform.current().detached_popen_kwargs(),
            )
        except OSError as exc:
            return CommandResult(None, time.monotonic() - started, f"cannot start {argv[0]}: {exc}")
        try:
            code: int | None = process.wait(timeout=timeout)
            tail = ""
        except subprocess.TimeoutExpired:
            _kill_group(process)
            code, tail = None, f"killed after {timeout:g}s"
    seconds = time.monotonic() - started
    return CommandResult(code, seconds, tail or _tail(output, offset))


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            ACTIVE_ENV: "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_INPUT": "1",
            "npm_config_update_notifier": "false",
            "npm_config_fund": "false",
            "npm_config_audit": "false",
        }
    )
    return env


def _tail(path: Path, offset: int) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            text = handle.read()[-8192:].decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-_TAIL_LINES:])


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    platform.current().kill_group(process.pid)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
