"""Running the orchestrator as the one process of its workspace: the locks, the plan, the event loop.

"One" holds whatever is done to `.autonomic/`: the lock that decides is taken on the workspace folder
itself (POSIX), which deleting, replacing or garbling files cannot release; the lock file beside it
keeps the pid for people and is what Windows locks. Where a folder cannot be locked, the process table
is asked as well: an older live orchestrator of the workspace wins."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

from autonomic.clock import iso_now
from autonomic.platform.lock import ProcessLock
from autonomic.supervisor import markers
from autonomic.supervisor.orchestrator import Orchestrator
from autonomic.supervisor.spec import Plan
from autonomic.workspace import Workspace

EXIT_ALREADY_RUNNING = 0
EXIT_BAD_PLAN = 2
EXIT_BAD_STATE = 2


def run_daemon(root: str) -> int:
    """Take the workspace locks and run until shut down. A second orchestrator exits at once (0): the
    one holding the lock is the orchestrator, whoever started it."""
    workspace = Workspace.at(root)
    try:
        workspace.ensure_dirs()
        folder_lock, file_lock = ProcessLock(workspace.root), ProcessLock(workspace.lock_file)
        if not _acquire(folder_lock) or not _acquire(file_lock) or _older_one_runs(workspace):
            folder_lock.release()
            _say(f"another orchestrator runs for {workspace.root}; asking it to republish its control file")
            markers.ask_to_republish(workspace.root)
            return EXIT_ALREADY_RUNNING
    except OSError as exc:
        _say(f"cannot take the workspace lock: {exc.filename or workspace.lock_file}: {exc.strerror or exc}")
        return EXIT_BAD_STATE
    os.environ[markers.ORCHESTRATOR_MARK] = str(workspace.root)
    os.environ.pop(markers.SERVICE_MARK, None)
    try:
        try:
            plan = Plan.from_dict(json.loads(workspace.plan_file.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            _say(f"cannot read the plan {workspace.plan_file}: {exc} (run 'autonomic up')")
            return EXIT_BAD_PLAN
        _say(f"orchestrator pid {os.getpid()} for {workspace.root}")
        try:
            asyncio.run(Orchestrator(workspace, plan).run())
        except OSError as exc:  # the control file or a folder it needs is unusable (a folder, no room)
            _say(f"cannot run: {exc.filename or workspace.state_dir}: {exc.strerror or exc}")
            return EXIT_BAD_STATE
        return 0
    finally:
        file_lock.release()
        folder_lock.release()


def _acquire(lock: ProcessLock, patience: float = 0.3) -> bool:
    """Take `lock`, allowing a moment for a client that only probes it (`held_elsewhere`) to let go."""
    deadline = time.monotonic() + patience
    while not lock.acquire():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _older_one_runs(workspace: Workspace) -> bool:
    """Where the folder cannot be locked (Windows), an older live orchestrator found in the process table
    is the one. (Where it can, the lock alone decides: asking here could let two starters both yield.)"""
    return sys.platform == "win32" and _older_in_table(workspace)


def _older_in_table(workspace: Workspace) -> bool:
    me = os.getpid()
    try:
        import psutil

        mine = psutil.Process(me).create_time()
    except Exception:
        return False
    return any((o.create_time, o.pid) < (mine, me) for o in markers.find_orchestrators(workspace.root))


def _say(message: str) -> None:
    sys.stderr.write(f"{iso_now()} {message}\n")
    sys.stderr.flush()
