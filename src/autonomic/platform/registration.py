"""Registration with the OS: the orchestrator at logon (`autonomic boot ...`) and the daily backup
(`autonomic backup schedule ...`), through one interface with one backend per OS artefact.

This module lives at `autonomic/platform/registration.py`. Health checks import `boot_status(workspace)`
and `schedule_status(workspace)` from here; both return a `Registration` and never raise for a missing
or broken registration (they report it). `register_boot` / `register_schedule` (and the `unregister_`
pair) change the OS state and return the lines that say what was written where.

Backends: Linux — a systemd user unit / timer when a systemd user instance runs, else crontab and an XDG
autostart entry; macOS — a LaunchAgent; Windows — Task Scheduler (falling back to the HKCU Run key).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from autonomic.errors import RegistrationError
from autonomic.platform.entry import (
    Backend,
    Entry,
    Purpose,
    Registration,
)
from autonomic.platform.host import Host
from autonomic.workspace import Workspace

if TYPE_CHECKING:
    from autonomic.boot.settings import BootSettings


# --- what gets registered -------------------------------------------------------------------------------


def interpreter(host: Host | None = None) -> str:
    """The absolute interpreter the entries run: this one (a venv's python stays the venv's), windowless on
    Windows when `pythonw.exe` sits beside it."""
    python = os.path.abspath(sys.executable)
    if (host or Host()).windows:
        windowless = Path(python).with_name("pythonw.exe")
        if windowless.is_file():
            return str(windowless)
    return python


def boot_argv(root: Path, python: str) -> list[str]:
    """`up --boot` waits `[boot] delay` itself (read at boot, so changing it needs no re-registration)."""
    return [python, "-m", "autonomic", "up", "--foreground", "--boot", "--workspace", str(root)]


def backup_argv(root: Path, python: str) -> list[str]:
    return [python, "-m", "autonomic", "backup", "run", "--workspace", str(root)]


def boot_entry(workspace: Workspace, settings: BootSettings, host: Host) -> Entry:
    """The orchestrator entry. `delay` is for Task Scheduler's own trigger delay (its task then runs the
    command with `--delay 0s`); elsewhere the command waits by itself."""
    return Entry(
        purpose=Purpose.BOOT,
        root=workspace.root,
        argv=boot_argv(workspace.root, interpreter(host)),
        delay=settings.delay,
        restart_after=settings.restart_after,
        log=workspace.logs / "boot.log",
    )


def backup_entry(workspace: Workspace, at: tuple[int, int], host: Host) -> Entry:
    return Entry(
        purpose=Purpose.BACKUP,
        root=workspace.root,
        argv=backup_argv(workspace.root, interpreter(host)),
        at=at,
        log=workspace.logs / "backup-schedule.log",
    )


def _probe_entry(workspace: Workspace, purpose: Purpose) -> Entry:
    """Enough of an entry to find its artefacts (the names depend only on the workspace and purpose)."""
    return Entry(purpose=purpose, root=workspace.root, argv=[interpreter()])


# --- judging what is registered ---------------------------------------------------------------------


def combine(found: list[Registration], nothing: str) -> Registration:
    """Several artefacts (e.g. crontab and XDG autostart) read as one registration."""
    present = [r for r in found if r.registered]
    if not present:
        return Registration(False, False, False, "", nothing)
    if len(present) == 1:
        return present[0]
    return Registration(
        registered=True,
        enabled=any(r.enabled for r in present),
        points_here=all(r.points_here for r in present),
        where="; ".join(r.where for r in present),
        detail="; ".join(f"{r.backend}: {r.detail}" for r in present),
        backend="+".join(r.backend for r in present),
    )


# --- choosing backends ----------------------------------------------------------------------------


_MANAGER_STATES = {"initializing", "starting", "running", "degraded", "maintenance", "stopping"}


def _systemd_user(host: Host) -> bool:
    """Whether a systemd user instance answers (`is-system-running` prints its state; it exits non-zero
    for `degraded` too, so the printed state is what counts)."""
    if not host.linux or not host.has("systemctl"):
        return False
    answer = host.run(["systemctl", "--user", "is-system-running"], None)
    return answer.out.strip() in _MANAGER_STATES


def known_backends(purpose: Purpose, host: Host) -> list[Backend]:
    """Every backend that may hold a registration of `purpose` on this OS (status and unregister look at
    all of them, so an entry made through a fallback is still found)."""
    from autonomic.platform import cron, launchd, systemd, taskscheduler, xdg

    if host.macos:
        return [launchd.LaunchAgent()]
    if host.windows:
        return (
            [taskscheduler.ScheduledTask(), taskscheduler.RunKey()]
            if purpose is Purpose.BOOT
            else [taskscheduler.ScheduledTask()]
        )
    if purpose is Purpose.BOOT:
        return [systemd.UserUnit(), cron.Crontab(), xdg.Autostart()]
    return [systemd.UserUnit(), cron.Crontab()]


def chosen_backends(purpose: Purpose, host: Host) -> list[Backend]:
    """The backends `register` writes to on this machine, best first."""
    from autonomic.platform import cron, launchd, systemd, taskscheduler, xdg

    if host.macos:
        return [launchd.LaunchAgent()]
    if host.windows:
        return [taskscheduler.ScheduledTask()]
    if _systemd_user(host):
        return [systemd.UserUnit()]
    chosen: list[Backend] = [cron.Crontab()] if host.has("crontab") else []
    if purpose is Purpose.BOOT:
        chosen.append(xdg.Autostart())
    if not chosen:
        raise RegistrationError(
            "cannot schedule the backup here: no systemd user instance and no crontab "
            "(install cron, e.g. 'apt-get install cron')"
        )
    return chosen


# --- the interface the CLI and the health checks use ---------------------------------------------------


def status(workspace: Workspace, purpose: Purpose, host: Host | None = None) -> Registration:
    host = host or Host()
    entry = _probe_entry(workspace, purpose)
    found: list[Registration] = []
    for backend in known_backends(purpose, host):
        try:
            found.append(backend.status(entry, host))
        except (OSError, ValueError) as exc:
            found.append(Registration(True, False, False, backend.name, f"unreadable: {exc}", backend.name))
    nothing = "not registered" if purpose is Purpose.BOOT else "not scheduled"
    return combine(found, f"{nothing} (run 'autonomic {_command(purpose)} register')")


def boot_status(workspace: Workspace, host: Host | None = None) -> Registration:
    """Health check 5: is the orchestrator registered to start at logon, enabled, pointing here?"""
    return status(workspace, Purpose.BOOT, host)


def schedule_status(workspace: Workspace, host: Host | None = None) -> Registration:
    """Health check 6: is the daily backup scheduled, enabled, pointing here?"""
    return status(workspace, Purpose.BACKUP, host)


def register(entry: Entry, host: Host | None = None) -> list[str]:
    """Register `entry` with the best backend(s) here; stale copies in other backends are removed so one
    workspace never has two competing registrations of one purpose."""
    host = host or Host()
    try:
        return _register(entry, host)
    except OSError as exc:
        raise RegistrationError(f"cannot register: {exc}") from None


def _register(entry: Entry, host: Host) -> list[str]:
    said: list[str] = []
    used: set[str] = set()
    for backend in chosen_backends(entry.purpose, host):
        try:
            said += backend.register(entry, host)
            used.add(backend.name)
        except RegistrationError as exc:
            fallback = _fallback(backend, entry.purpose, host)
            if fallback is None:
                raise
            said.append(f"{exc}; falling back to {fallback.name}")
            said += fallback.register(entry, host)
            used.add(fallback.name)
    for backend in known_backends(entry.purpose, host):
        if backend.name not in used and backend.status(entry, host).registered:
            said += backend.unregister(entry, host)
    return said


def _fallback(backend: Backend, purpose: Purpose, host: Host) -> Backend | None:
    """Where a refused registration goes instead: Task Scheduler -> the HKCU Run key (boot only)."""
    from autonomic.platform import taskscheduler

    if host.windows and purpose is Purpose.BOOT and backend.name == taskscheduler.ScheduledTask.name:
        return taskscheduler.RunKey()
    return None


def unregister(workspace: Workspace, purpose: Purpose, host: Host | None = None) -> list[str]:
    host = host or Host()
    entry = _probe_entry(workspace, purpose)
    said: list[str] = []
    try:
        for backend in known_backends(purpose, host):
            said += backend.unregister(entry, host)
    except OSError as exc:
        raise RegistrationError(f"cannot unregister: {exc}") from None
    return said


def register_boot(workspace: Workspace, host: Host | None = None) -> list[str]:
    """Register the orchestrator for this workspace with its `[boot]` settings (used by `health --fix`)."""
    from autonomic import config

    host = host or Host()
    return register(boot_entry(workspace, config.load(workspace).boot, host), host)


def register_schedule(workspace: Workspace, host: Host | None = None) -> list[str]:
    """Schedule the daily backup at `[backup] at` (used by `health --fix`)."""
    host = host or Host()
    return register(backup_entry(workspace, backup_time(workspace), host), host)


def backup_time(workspace: Workspace) -> tuple[int, int]:
    """`[backup] at` as (hour, minute)."""
    from autonomic import config

    backup = config.load(workspace).backup
    return backup.hour, backup.minute


def _command(purpose: Purpose) -> str:
    return "boot" if purpose is Purpose.BOOT else "backup schedule"


__all__ = [
    "Backend",
    "Entry",
    "Purpose",
    "Registration",
    "RegistrationError",
    "backup_argv",
    "backup_entry",
    "backup_time",
    "boot_argv",
    "boot_entry",
    "boot_status",
    "chosen_backends",
    "combine",
    "interpreter",
    "known_backends",
    "register",
    "register_boot",
    "register_schedule",
    "schedule_status",
    "status",
    "unregister",
]
