"""Running the orchestrator as the one process of its workspace: the lock, the plan, the event loop."""

from __future__ import annotations

import asyncio
import json
import os
import sys

from autonomic.clock import iso_now
from autonomic.platform.lock import ProcessLock
from autonomic.supervisor.orchestrator import Orchestrator
from autonomic.supervisor.spec import Plan
from autonomic.workspace import Workspace

EXIT_ALREADY_RUNNING = 0
EXIT_BAD_PLAN = 2


def run_daemon(root: str) -> int:
    """Take the workspace lock and run until shut down. A second orchestrator exits at once (0): the
    one holding the lock is the orchestrator, whoever started it."""
    workspace = Workspace.at(root)
    workspace.ensure_dirs()
    lock = ProcessLock(workspace.lock_file)
    if not lock.acquire():
        _say(f"another orchestrator holds {workspace.lock_file}; exiting")
        return EXIT_ALREADY_RUNNING
    try:
        try:
            plan = Plan.from_dict(json.loads(workspace.plan_file.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            _say(f"cannot read the plan {workspace.plan_file}: {exc} (run 'autonomic up')")
            return EXIT_BAD_PLAN
        _say(f"orchestrator pid {os.getpid()} for {workspace.root}")
        asyncio.run(Orchestrator(workspace, plan).run())
        return 0
    finally:
        lock.release()


def _say(message: str) -> None:
    sys.stderr.write(f"{iso_now()} {message}\n")
    sys.stderr.flush()
