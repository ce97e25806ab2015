"""The boot flow: what an orchestrator started by the boot entry (`autonomic up --boot`) does beyond a
plain `up`, and the jobs every orchestrator runs for the backup.

At boot: wait `[boot] delay` (launchd and cron have no delay of their own), run the `before` jobs (the
upgrade check, once `[upgrade]` adds it), bring the services up in order, then verify health with
auto-fix rounds (`autonomic health --fix`, an `after` job). Each step is an event in
`outputs/master_orchestrator_log.jsonl`.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from autonomic.eventlog import EventLog
from autonomic.supervisor.jobs import JobPhase, JobSpec
from autonomic.supervisor.spec import Plan
from autonomic.workspace import Workspace

if TYPE_CHECKING:
    from autonomic.backup.settings import BackupSettings
    from autonomic.boot.settings import BootSettings

OVERDUE_BACKUP_DELAY = 60.0
"""How long after an orchestrator starts it looks for an overdue backup (services first)."""
OVERDUE_BACKUP_EVERY = 3600.0
"""Then hourly: `--if-overdue` returns at once unless the last good snapshot is older than 24 h, so a
machine without any scheduler still gets its daily backup while the orchestrator runs."""
OVERDUE_BACKUP_TIMEOUT = 4 * 3600.0
HEALTH_FIX_TIMEOUT = 300.0


def autonomic_argv(workspace: Workspace, *args: str) -> list[str]:
    """This interpreter running an `autonomic` command for this workspace."""
    return [sys.executable, "-m", "autonomic", *args, "--workspace", str(workspace.root)]


def overdue_backup_jobs(backup: BackupSettings, workspace: Workspace) -> list[JobSpec]:
    """Every orchestrator runs an overdue backup shortly after it starts (when `[backup] schedule`)."""
    if not backup.schedule:
        return []
    return [
        JobSpec(
            name="backup-overdue",
            argv=autonomic_argv(workspace, "backup", "run", "--if-overdue"),
            phase=JobPhase.AFTER,
            delay=OVERDUE_BACKUP_DELAY,
            every=OVERDUE_BACKUP_EVERY,
            timeout=OVERDUE_BACKUP_TIMEOUT,
        )
    ]


def boot_jobs(workspace: Workspace) -> list[JobSpec]:
    """The jobs only the boot entry's orchestrator runs: health verification with auto-fix rounds once
    the services are up."""
    return [
        JobSpec(
            name="health-fix",
            argv=autonomic_argv(workspace, "health", "--fix"),
            phase=JobPhase.AFTER,
            timeout=HEALTH_FIX_TIMEOUT,
        )
    ]


def boot_plan(plan: Plan, workspace: Workspace) -> Plan:
    """`plan` with the boot-only jobs added (a job of the same name in `plan` wins)."""
    have = {job.name for job in plan.jobs}
    extra = [job for job in boot_jobs(workspace) if job.name not in have]
    return dataclasses.replace(plan, jobs=[*plan.jobs, *extra])


def wait_before_start(
    workspace: Workspace, delay: float, sleep: Callable[[float], None] = time.sleep
) -> None:
    """The boot delay, logged before and after so a slow boot can be read from the log."""
    events = EventLog(workspace.orchestrator_log)
    events.write("boot", "orchestrator", "waiting", f"boot entry: starting in {delay:g}s", pid=os.getpid())
    if delay > 0:
        sleep(delay)
    events.write("boot", "orchestrator", "starting", "boot entry: starting the orchestrator", pid=os.getpid())


def start_at_boot(workspace: Workspace, boot: BootSettings, plan: Plan, delay: str | None) -> Plan | None:
    """What `autonomic up --boot` does before it becomes the orchestrator: the boot delay (`--delay`, else
    `[boot] delay`), then the plan with the boot jobs; None when an orchestrator already holds the
    workspace (nothing to do: a clean exit, which the OS does not count as a failure to restart)."""
    from autonomic.errors import UsageError
    from autonomic.platform.lock import ProcessLock
    from autonomic.units import parse_duration

    try:
        seconds = boot.delay if delay is None else parse_duration(delay)
    except ValueError as exc:
        raise UsageError(f"--delay: {exc}") from None
    wait_before_start(workspace, seconds)
    workspace.ensure_dirs()
    probe = ProcessLock(workspace.lock_file)
    if not probe.acquire():
        EventLog(workspace.orchestrator_log).write(
            "boot", "orchestrator", "skipped", "boot entry: an orchestrator already runs this workspace"
        )
        return None
    probe.release()
    return boot_plan(plan, workspace)
