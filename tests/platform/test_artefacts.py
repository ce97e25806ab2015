"""Each backend's artefact, rendered and validated the way its OS would read it."""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from autonomic.platform import cron, launchd, systemd, taskscheduler, xdg
from autonomic.platform.registration import Entry

WEIRD_ARGS = [
    "plain",
    "with space",
    'dq"uote',
    "sq'uote",
    "back\\slash",
    "100%",
    "$HOME",
    "semi;colon",
    "tab\there",
    "",
    "C:\\Program Files\\x\\",
    "ends with backslash\\",
]

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def _verify(unit_dir: Path, name: str, runtime: Path) -> None:
    """`systemd-analyze verify` exits 0 even for a setting it ignores, so its complaints count too."""
    runtime.mkdir(mode=0o700, exist_ok=True)
    done = subprocess.run(
        [str(SYSTEMD_ANALYZE), "verify", "--user", str(unit_dir / name)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime), "SYSTEMD_LOG_LEVEL": "notice"},
        check=False,
    )
    problems = [line for line in done.stderr.splitlines() if name in line or "ignoring" in line.lower()]
    assert done.returncode == 0 and not problems, done.stderr


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed (Linux only)")
def test_systemd_units_and_timer_pass_systemd_analyze_verify(
    boot: Entry, backup: Entry, tmp_path: Path
) -> None:
    units = tmp_path / "units"
    units.mkdir()
    (units / f"{boot.slug}.service").write_text(systemd.render_service(boot))
    (units / f"{backup.slug}.service").write_text(systemd.render_service(backup))
    (units / f"{backup.slug}.timer").write_text(systemd.render_timer(backup))
    for name in (f"{boot.slug}.service", f"{backup.slug}.service", f"{backup.slug}.timer"):
        _verify(units, name, tmp_path / "runtime")


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed (Linux only)")
def test_verify_does_catch_a_bad_setting(boot: Entry, tmp_path: Path) -> None:
    """The check above can fail: a unit with a setting systemd ignores is reported."""
    units = tmp_path / "units"
    units.mkdir()
    bad = systemd.render_service(boot).replace("Restart=always", "Restart=sometimes")
    (units / "bad.service").write_text(bad)
    with pytest.raises(AssertionError):
        _verify(units, "bad.service", tmp_path / "runtime")


def test_systemd_unit_settings(boot: Entry, backup: Entry) -> None:
    unit = systemd.render_service(boot)
    for line in (
        "Restart=always",
        "RestartSec=5",
        "StartLimitIntervalSec=0",
        "WantedBy=default.target",
        "KillMode=process",
        "RestartPreventExitStatus=0",
    ):
        assert line in unit.splitlines()
    assert systemd.exec_start(unit) == boot.argv
    timer = systemd.render_timer(backup)
    assert "OnCalendar=*-*-* 03:30:00" in timer.splitlines()
    assert "Persistent=true" in timer.splitlines()
    assert f"Unit={backup.slug}.service" in timer.splitlines()
    assert "Type=oneshot" in systemd.render_service(backup).splitlines()


def test_systemd_exec_start_quoting_round_trips() -> None:
    assert systemd.split(systemd.command_line(WEIRD_ARGS)) == WEIRD_ARGS


def test_plist_round_trips_with_required_keys(boot: Entry, backup: Entry) -> None:
    agent = plistlib.loads(launchd.render(boot))
    assert agent["Label"] == boot.label and agent["Label"].startswith("io.autonomic.boot.")
    assert agent["ProgramArguments"] == boot.argv
    assert agent["RunAtLoad"] is True
    assert agent["KeepAlive"] == {"SuccessfulExit": False}
    assert agent["StandardOutPath"] == agent["StandardErrorPath"] == str(boot.log)
    assert agent["WorkingDirectory"] == str(boot.root)
    assert agent["AbandonProcessGroup"] is True
    daily = plistlib.loads(launchd.render(backup))
    assert daily["StartCalendarInterval"] == {"Hour": 3, "Minute": 30}
    assert daily["ProgramArguments"] == backup.argv
    assert "KeepAlive" not in daily
    assert plistlib.dumps(agent, sort_keys=True) == launchd.render(boot)


def _task(entry: Entry) -> ET.Element:
    text = taskscheduler.render(entry, "DESKTOP\\alice")
    return taskscheduler.parse(text)


def test_task_scheduler_xml_carries_the_non_default_settings(boot: Entry) -> None:
    ns = {"t": taskscheduler.NS}
    task = _task(boot)
    assert task.tag == f"{{{taskscheduler.NS}}}Task" and task.get("version") == "1.2"
    trigger = task.find("t:Triggers/t:LogonTrigger", ns)
    assert trigger is not None
    assert trigger.findtext("t:Delay", namespaces=ns) == "PT30S"
    assert trigger.findtext("t:UserId", namespaces=ns) == "DESKTOP\\alice"
    settings = task.find("t:Settings", ns)
    assert settings is not None
    expected = {
        "ExecutionTimeLimit": "PT0S",
        "DisallowStartIfOnBatteries": "false",
        "StopIfGoingOnBatteries": "false",
        "StartWhenAvailable": "true",
        "MultipleInstancesPolicy": "IgnoreNew",
        "Enabled": "true",
    }
    for tag, value in expected.items():
        assert settings.findtext(f"t:{tag}", namespaces=ns) == value, tag
    assert settings.findtext("t:RestartOnFailure/t:Interval", namespaces=ns) == "PT1M"
    assert settings.findtext("t:RestartOnFailure/t:Count", namespaces=ns) == "999"
    principal = task.find("t:Principals/t:Principal", ns)
    assert principal is not None
    assert principal.findtext("t:LogonType", namespaces=ns) == "InteractiveToken"
    assert principal.findtext("t:RunLevel", namespaces=ns) == "LeastPrivilege"
    # the trigger delays, so the command does not wait a second time
    assert taskscheduler.read_argv(task) == [*boot.argv, "--delay", "0s"]


def test_task_scheduler_daily_trigger(backup: Entry) -> None:
    ns = {"t": taskscheduler.NS}
    task = _task(backup)
    trigger = task.find("t:Triggers/t:CalendarTrigger", ns)
    assert trigger is not None
    assert trigger.findtext("t:StartBoundary", namespaces=ns) == "2000-01-01T03:30:00"
    assert trigger.findtext("t:ScheduleByDay/t:DaysInterval", namespaces=ns) == "1"
    assert task.findtext("t:Settings/t:StartWhenAvailable", namespaces=ns) == "true"
    assert taskscheduler.read_argv(task) == backup.argv


def test_windows_command_line_round_trips() -> None:
    args = [a for a in WEIRD_ARGS if "\t" not in a]
    assert taskscheduler.split(subprocess.list2cmdline(args)) == args


def test_cron_lines_parse_back(boot: Entry, backup: Entry) -> None:
    line = cron.parse_line(cron.render_line(boot))
    assert line.schedule == "@reboot" and line.argv == boot.argv and line.log == str(boot.log)
    daily = cron.parse_line(cron.render_line(backup))
    assert daily.schedule == "30 3 * * *" and daily.argv == backup.argv
    minute, hour, dom, month, dow = daily.schedule.split()
    assert (int(minute), int(hour), dom, month, dow) == (30, 3, "*", "*", "*")
    assert not cron.parse_line("# " + cron.render_line(boot)).enabled
    with pytest.raises(ValueError, match="not a crontab entry"):
        cron.parse_line("this is no cron line")


def test_cron_escapes_percent(workspace_root: Path, boot: Entry) -> None:
    entry = Entry(boot.purpose, boot.root, [*boot.argv, "50%"], log=boot.log)
    rendered = cron.render_line(entry)
    assert "\\%" in rendered and "50%" not in rendered.replace("\\%", "")
    assert cron.parse_line(rendered).argv[-1] == "50%"


def test_xdg_desktop_entry(boot: Entry) -> None:
    keys = xdg.parse(xdg.render(boot))
    assert keys["Type"] == "Application"
    assert xdg.split(keys["Exec"]) == boot.argv
    assert keys["Path"] == str(boot.root)
    assert xdg.split(xdg.exec_line(WEIRD_ARGS)) == WEIRD_ARGS
