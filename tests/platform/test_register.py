"""register -> status -> unregister through the one interface, per OS, on a temporary HOME (file-based
backends write real files there; only the OS tools are faked where the OS service does not exist)."""

from __future__ import annotations

import dataclasses
import plistlib
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from autonomic.platform import registration, taskscheduler
from autonomic.platform.host import Outcome
from autonomic.platform.registration import Entry, Purpose, RegistrationError
from autonomic.workspace import Workspace
from tests.platform.fakes import FakeTools, crontab_lines, only_marker


def _ws(root: Path) -> Workspace:
    return Workspace.at(root)


def test_nothing_registered_reads_as_such(home: Path, tools: FakeTools, workspace_root: Path) -> None:
    host = tools.host("linux", home)
    for purpose in Purpose:
        found = registration.status(_ws(workspace_root), purpose, host)
        assert not found.registered and not found.ok
        assert "register" in found.detail
    assert registration.unregister(_ws(workspace_root), Purpose.BOOT, host) == []


def test_linux_without_systemd_or_cron_uses_xdg_and_cannot_schedule(
    home: Path, tools: FakeTools, boot: Entry, backup: Entry
) -> None:
    tools.installed = {"systemctl"}  # installed, but no user instance answers (like this machine)
    host = tools.host("linux", home)
    said = registration.register(boot, host)
    desktop = home / ".config" / "autostart" / f"{boot.slug}.desktop"
    assert desktop.is_file() and any(str(desktop) in line for line in said)
    found = registration.boot_status(_ws(boot.root), host)
    assert found.ok and found.backend == "xdg-autostart" and found.where == str(desktop)
    with pytest.raises(RegistrationError, match="install cron"):
        registration.register(backup, host)
    assert registration.unregister(_ws(boot.root), Purpose.BOOT, host) == [f"removed {desktop}"]
    assert not desktop.exists()


def test_linux_cron_fallback_is_idempotent_and_removes_exactly_its_lines(
    home: Path, tools: FakeTools, boot: Entry, backup: Entry
) -> None:
    tools.installed = {"crontab"}
    tools.crontab = "MAILTO=alice\n0 * * * * /usr/bin/hourly-thing\n"
    host = tools.host("linux", home)
    registration.register(boot, host)
    registration.register(boot, host)  # idempotent
    registration.register(backup, host)
    lines = crontab_lines(tools)
    assert lines[:2] == ["MAILTO=alice", "0 * * * * /usr/bin/hourly-thing"]
    assert len(only_marker(lines)) == 2
    assert sum(line.startswith("@reboot ") for line in lines) == 1
    assert sum(line.startswith("30 3 * * * ") for line in lines) == 1
    boot_found = registration.boot_status(_ws(boot.root), host)
    assert boot_found.ok and boot_found.backend == "cron+xdg-autostart"
    assert registration.schedule_status(_ws(boot.root), host).ok

    registration.unregister(_ws(boot.root), Purpose.BOOT, host)
    lines = crontab_lines(tools)
    assert len(only_marker(lines)) == 1 and not any(line.startswith("@reboot") for line in lines)
    assert registration.schedule_status(_ws(boot.root), host).ok
    registration.unregister(_ws(boot.root), Purpose.BACKUP, host)
    assert crontab_lines(tools) == ["MAILTO=alice", "0 * * * * /usr/bin/hourly-thing"]
    assert not (home / ".config" / "autostart").exists() or not any(
        (home / ".config" / "autostart").iterdir()
    )


def test_a_commented_out_cron_line_is_reported_disabled(home: Path, tools: FakeTools, backup: Entry) -> None:
    tools.installed = {"crontab"}
    host = tools.host("linux", home)
    registration.register(backup, host)
    tools.crontab = "\n".join(
        "#" + line if line.startswith("30 3") else line for line in (tools.crontab or "").splitlines()
    )
    found = registration.schedule_status(_ws(backup.root), host)
    assert found.registered and not found.enabled and not found.ok
    assert "commented out" in found.detail


def test_linux_systemd_user_units(home: Path, tools: FakeTools, boot: Entry, backup: Entry) -> None:
    tools.installed = {"systemctl", "loginctl", "crontab"}
    tools.systemd_state = "degraded"  # a running instance with a failed unit still counts
    host = tools.host("linux", home)
    registration.register(boot, host)
    registration.register(backup, host)
    units = home / ".config" / "systemd" / "user"
    assert sorted(p.name for p in units.iterdir()) == sorted(
        [f"{boot.slug}.service", f"{backup.slug}.service", f"{backup.slug}.timer"]
    )
    assert tools.enabled_units == {f"{boot.slug}.service", f"{backup.slug}.timer"}
    assert tools.crontab is None  # systemd chosen: no cron line
    found = registration.boot_status(_ws(boot.root), host)
    assert found.ok and found.backend == "systemd" and "lingering off" in found.detail
    assert registration.schedule_status(_ws(boot.root), host).ok

    from autonomic.platform import systemd

    systemd.enable_linger(host)
    assert "lingering on" in registration.boot_status(_ws(boot.root), host).detail

    tools.enabled_units.discard(f"{boot.slug}.service")
    found = registration.boot_status(_ws(boot.root), host)
    assert found.registered and not found.enabled and not found.ok

    registration.unregister(_ws(boot.root), Purpose.BOOT, host)
    registration.unregister(_ws(boot.root), Purpose.BACKUP, host)
    assert list(units.iterdir()) == []


def test_moving_to_systemd_removes_the_old_fallback(home: Path, tools: FakeTools, boot: Entry) -> None:
    tools.installed = {"systemctl", "crontab"}
    host = tools.host("linux", home)
    registration.register(boot, host)
    assert registration.boot_status(_ws(boot.root), host).backend == "cron+xdg-autostart"
    tools.systemd_state = "running"
    said = registration.register(boot, host)
    assert any("removed" in line for line in said)
    assert registration.boot_status(_ws(boot.root), host).backend == "systemd"
    assert only_marker(crontab_lines(tools)) == []


def test_a_failed_systemctl_leaves_nothing_behind(home: Path, tools: FakeTools, boot: Entry) -> None:
    tools.installed = {"systemctl"}
    tools.systemd_state = "running"
    host = tools.host("linux", home)

    def refuse(argv: Sequence[str], stdin: str | None) -> Outcome:
        if "enable" in argv:
            return Outcome(1, err="Access denied")
        return tools(argv, stdin)

    refusing = dataclasses.replace(host, run=refuse)
    with pytest.raises(RegistrationError, match="Access denied"):
        registration.register(boot, refusing)
    assert not registration.boot_status(_ws(boot.root), host).registered


def test_macos_launch_agents(home: Path, tools: FakeTools, boot: Entry, backup: Entry) -> None:
    tools.installed = {"launchctl"}
    host = tools.host("darwin", home)
    registration.register(boot, host)
    registration.register(backup, host)
    agents = home / "Library" / "LaunchAgents"
    plist = agents / f"{boot.label}.plist"
    assert plistlib.loads(plist.read_bytes())["ProgramArguments"] == boot.argv
    assert boot.label in tools.loaded_labels and backup.label in tools.loaded_labels
    assert registration.boot_status(_ws(boot.root), host).ok
    assert registration.schedule_status(_ws(boot.root), host).ok
    tools.disabled_labels.add(boot.label)
    assert not registration.boot_status(_ws(boot.root), host).enabled
    registration.register(boot, host)  # registering again re-enables it
    assert registration.boot_status(_ws(boot.root), host).ok
    registration.unregister(_ws(boot.root), Purpose.BOOT, host)
    assert not plist.exists() and boot.label not in tools.loaded_labels
    assert registration.schedule_status(_ws(boot.root), host).ok


def test_windows_task_scheduler_and_run_key_fallback(
    home: Path, tools: FakeTools, boot: Entry, backup: Entry
) -> None:
    tools.installed = {"schtasks", "reg"}
    host = tools.host("win32", home)
    registration.register(boot, host)
    registration.register(backup, host)
    assert set(tools.tasks) == {boot.slug, backup.slug}
    found = registration.boot_status(_ws(boot.root), host)
    assert found.ok and found.backend == "task-scheduler"
    assert registration.schedule_status(_ws(boot.root), host).ok

    # a machine whose policy refuses tasks: the Run key takes the orchestrator, the task is gone
    registration.unregister(_ws(boot.root), Purpose.BOOT, host)
    tools.refuse_tasks = True
    said = registration.register(boot, host)
    assert any("falling back to run-key" in line for line in said)
    assert (taskscheduler.RUN_KEY, boot.slug) in tools.registry
    found = registration.boot_status(_ws(boot.root), host)
    assert found.ok and found.backend == "run-key"
    tools.registry[(taskscheduler.APPROVED_KEY, boot.slug)] = "030000000000000000000000"
    assert not registration.boot_status(_ws(boot.root), host).enabled
    registration.unregister(_ws(boot.root), Purpose.BOOT, host)
    assert (taskscheduler.RUN_KEY, boot.slug) not in tools.registry
    with pytest.raises(RegistrationError, match="refused"):
        registration.register(backup, dataclasses.replace(host))


def test_status_notices_a_deleted_interpreter_or_workspace(
    home: Path, tools: FakeTools, workspace_root: Path, tmp_path: Path
) -> None:
    python = tmp_path / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    shutil.copy(shutil.which("true") or "/bin/true", python)
    host = tools.host("linux", home)
    entry = Entry(Purpose.BOOT, workspace_root, registration.boot_argv(workspace_root, str(python)))
    registration.register(entry, host)
    assert registration.boot_status(_ws(workspace_root), host).ok
    python.unlink()
    found = registration.boot_status(_ws(workspace_root), host)
    assert found.registered and found.enabled and not found.points_here
    assert "interpreter" in found.detail and str(python) in found.detail
    shutil.copy(shutil.which("true") or "/bin/true", python)
    (workspace_root / "autonomic.toml").unlink()
    found = registration.boot_status(_ws(workspace_root), host)
    assert not found.points_here and "no longer exists" in found.detail


def test_two_workspaces_never_share_a_registration(home: Path, tools: FakeTools, tmp_path: Path) -> None:
    host = tools.host("linux", home)
    roots = [tmp_path / "a" / "ws", tmp_path / "b" / "ws"]
    for root in roots:
        root.mkdir(parents=True)
        (root / "autonomic.toml").write_text("")
        registration.register(
            Entry(Purpose.BOOT, root, registration.boot_argv(root, "/usr/bin/python3")), host
        )
    assert len(list((home / ".config" / "autostart").iterdir())) == 2
    registration.unregister(_ws(roots[0]), Purpose.BOOT, host)
    assert not registration.boot_status(_ws(roots[0]), host).registered
    assert registration.boot_status(_ws(roots[1]), host).registered
