"""Running the watchdog as the one watchdog of its workspace: the lock, then the loop."""

from __future__ import annotations

import asyncio
import os
import sys

from autonomic.clock import iso_now
from autonomic.platform.lock import ProcessLock
from autonomic.watchdog.watchdog import Watchdog, WatchdogOptions
from autonomic.workspace import Workspace

EXIT_ALREADY_RUNNING = 0


def run_watchdog(root: str, options: WatchdogOptions) -> int:
    """Take the watchdog lock and look until stopped. A second watchdog exits at once with one line:
    the one holding the lock is the watchdog, whoever started it."""
    workspace = Workspace.at(root)
    workspace.ensure_dirs()
    lock = ProcessLock(workspace.watchdog_lock)
    if not lock.acquire():
        _say(f"another watchdog holds {workspace.watchdog_lock}; exiting")
        return EXIT_ALREADY_RUNNING
    try:
        _say(f"watchdog pid {os.getpid()} for {workspace.root}, a look every {options.interval:g}s")
        asyncio.run(Watchdog(workspace, options).run())
        return 0
    finally:
        lock.release()


def _say(message: str) -> None:
    sys.stderr.write(f"{iso_now()} {message}\n")
    sys.stderr.flush()
