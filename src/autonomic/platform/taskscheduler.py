"""Windows: a Task Scheduler task for the current user (no admin rights), registered from XML with
`schtasks /Create /XML`; when that is refused, the orchestrator falls back to the `HKCU\\...\\Run` key.

The task carries the settings whose defaults would break a long-running orchestrator: a logon trigger
with `Delay` (Task Scheduler delays natively, so the command itself waits 0 s), `RestartOnFailure`,
`ExecutionTimeLimit` PT0S (the default stops a task after 72 h), not stopped or refused on battery,
`StartWhenAvailable` (a missed daily backup runs as soon as it can).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from autonomic.errors import RegistrationError
from autonomic.platform.entry import Entry, Purpose, Registration, points_here
from autonomic.platform.host import Host

NS = "http://schemas.microsoft.com/windows/2004/02/mit/task"
RUN_KEY = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run"
APPROVED_KEY = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run"


def command_line(argv: Sequence[str]) -> str:
    return subprocess.list2cmdline(list(argv))


def split(cmdline: str) -> list[str]:
    """Windows command-line splitting (the C runtime's rules for backslashes and quotes)."""
    args: list[str] = []
    current: list[str] = []
    quoted = have = False
    slashes = 0
    for char in cmdline:
        if char == "\\":
            slashes += 1
            have = True
            continue
        if char == '"':
            current.append("\\" * (slashes // 2))
            if slashes % 2:
                current.append('"')
            else:
                quoted = not quoted
            slashes, have = 0, True
            continue
        if slashes:
            current.append("\\" * slashes)
            slashes = 0
        if char in " \t" and not quoted:
            if have:
                args.append("".join(current))
                current, have = [], False
            continue
        current.append(char)
        have = True
    if slashes:
        current.append("\\" * slashes)
    if have:
        args.append("".join(current))
    return args


def task_argv(entry: Entry) -> list[str]:
    """The task's command: the boot entry's own wait is off, since the trigger's `Delay` does it."""
    if entry.purpose is Purpose.BOOT:
        return [*entry.argv, "--delay", "0s"]
    return list(entry.argv)


def _iso_seconds(seconds: float) -> str:
    return f"PT{max(0, round(seconds))}S"


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def render(entry: Entry, user: str) -> str:
    """The task definition (Task Scheduler schema 1.2) as text; `register` writes it out as UTF-16."""
    task = ET.Element("Task", {"version": "1.2", "xmlns": NS})
    info = _sub(task, "RegistrationInfo")
    _sub(info, "Author", "autonomic")
    _sub(info, "Description", entry.description)
    _sub(info, "URI", "\\" + entry.slug)
    triggers = _sub(task, "Triggers")
    if entry.purpose is Purpose.BOOT:
        trigger = _sub(triggers, "LogonTrigger")
        _sub(trigger, "Enabled", "true")
        _sub(trigger, "UserId", user)
        _sub(trigger, "Delay", _iso_seconds(entry.delay))
    else:
        hour, minute = entry.at
        trigger = _sub(triggers, "CalendarTrigger")
        _sub(trigger, "StartBoundary", f"2000-01-01T{hour:02d}:{minute:02d}:00")
        _sub(trigger, "Enabled", "true")
        _sub(_sub(trigger, "ScheduleByDay"), "DaysInterval", "1")
    principal = _sub(_sub(task, "Principals"), "Principal", None)
    principal.set("id", "Author")
    _sub(principal, "UserId", user)
    _sub(principal, "LogonType", "InteractiveToken")
    _sub(principal, "RunLevel", "LeastPrivilege")
    settings = _sub(task, "Settings")
    for tag, value in (
        ("MultipleInstancesPolicy", "IgnoreNew"),
        ("DisallowStartIfOnBatteries", "false"),
        ("StopIfGoingOnBatteries", "false"),
        ("AllowHardTerminate", "true"),
        ("StartWhenAvailable", "true"),
        ("RunOnlyIfNetworkAvailable", "false"),
    ):
        _sub(settings, tag, value)
    idle = _sub(settings, "IdleSettings")
    _sub(idle, "StopOnIdleEnd", "false")
    _sub(idle, "RestartOnIdle", "false")
    for tag, value in (
        ("AllowStartOnDemand", "true"),
        ("Enabled", "true"),
        ("Hidden", "false"),
        ("RunOnlyIfIdle", "false"),
        ("WakeToRun", "false"),
        ("ExecutionTimeLimit", "PT0S" if entry.purpose is Purpose.BOOT else "PT4H"),
        ("Priority", "7"),
    ):
        _sub(settings, tag, value)
    restart = _sub(settings, "RestartOnFailure")
    _sub(restart, "Interval", f"PT{max(1, -(-round(entry.restart_after) // 60))}M")
    _sub(restart, "Count", "999")
    actions = _sub(task, "Actions")
    actions.set("Context", "Author")
    action = _sub(actions, "Exec")
    argv = task_argv(entry)
    _sub(action, "Command", argv[0])
    _sub(action, "Arguments", command_line(argv[1:]))
    _sub(action, "WorkingDirectory", str(entry.root))
    ET.indent(task)
    body = ET.tostring(task, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-16"?>\n' + body + "\n"


def parse(text: str) -> ET.Element:
    """A task definition as `schtasks /Query /XML` prints it (or as `render` wrote it)."""
    start = text.find("<Task")
    if start < 0:
        raise ValueError("no <Task> element")
    return ET.fromstring(text[start:])  # noqa: S314 - our own task, read back from schtasks


def read_argv(task: ET.Element) -> list[str]:
    command = task.findtext(f"{{{NS}}}Actions/{{{NS}}}Exec/{{{NS}}}Command") or ""
    arguments = task.findtext(f"{{{NS}}}Actions/{{{NS}}}Exec/{{{NS}}}Arguments") or ""
    return [command.strip('"'), *split(arguments)] if command else []


def current_user(host: Host) -> str:
    domain = os.environ.get("USERDOMAIN", "") if host.windows else ""
    return f"{domain}\\{host.user}" if domain else host.user


class ScheduledTask:
    name = "task-scheduler"

    def register(self, entry: Entry, host: Host) -> list[str]:
        xml = render(entry, current_user(host))
        with tempfile.TemporaryDirectory(prefix="autonomic-task-") as folder:
            path = Path(folder) / f"{entry.slug}.xml"
            path.write_bytes(xml.encode("utf-16"))
            answer = host.run(["schtasks", "/Create", "/TN", entry.slug, "/XML", str(path), "/F"], None)
        if not answer.ok:
            raise RegistrationError(f"schtasks /Create refused the task: {answer.reason()}")
        return [f"registered the Task Scheduler task {entry.slug} (schtasks /Create /XML)"]

    def unregister(self, entry: Entry, host: Host) -> list[str]:
        if not host.run(["schtasks", "/Query", "/TN", entry.slug], None).ok:
            return []
        answer = host.run(["schtasks", "/Delete", "/TN", entry.slug, "/F"], None)
        if not answer.ok:
            raise RegistrationError(f"schtasks /Delete failed: {answer.reason()}")
        return [f"deleted the Task Scheduler task {entry.slug}"]

    def status(self, entry: Entry, host: Host) -> Registration:
        answer = host.run(["schtasks", "/Query", "/TN", entry.slug, "/XML"], None)
        if not answer.ok:
            return Registration(False, False, False, "", "", self.name)
        task = parse(answer.out)
        enabled = (task.findtext(f"{{{NS}}}Settings/{{{NS}}}Enabled") or "true").strip() == "true"
        here, why = points_here(read_argv(task), entry.root)
        detail = why if enabled else f"the task is disabled; {why}"
        return Registration(True, enabled, here, f"Task Scheduler: {entry.slug}", detail, self.name)


class RunKey:
    """The fallback: a value under HKCU's Run key (no delay of its own, no restart: `--boot` waits, the
    watchdog revives)."""

    name = "run-key"

    def register(self, entry: Entry, host: Host) -> list[str]:
        if entry.purpose is not Purpose.BOOT:
            raise RegistrationError("the Run key starts programs at logon only; it cannot schedule a backup")
        value = command_line(entry.argv)
        answer = host.run(["reg", "add", RUN_KEY, "/v", entry.slug, "/t", "REG_SZ", "/d", value, "/f"], None)
        if not answer.ok:
            raise RegistrationError(f"reg add {RUN_KEY} failed: {answer.reason()}")
        return [f"wrote {RUN_KEY}\\{entry.slug} = {value}"]

    def unregister(self, entry: Entry, host: Host) -> list[str]:
        if self._value(entry, host) is None:
            return []
        answer = host.run(["reg", "delete", RUN_KEY, "/v", entry.slug, "/f"], None)
        if not answer.ok:
            raise RegistrationError(f"reg delete {RUN_KEY} failed: {answer.reason()}")
        return [f"removed {RUN_KEY}\\{entry.slug}"]

    def _value(self, entry: Entry, host: Host, key: str = RUN_KEY) -> str | None:
        answer = host.run(["reg", "query", key, "/v", entry.slug], None)
        if not answer.ok:
            return None
        for line in answer.out.splitlines():
            name, _, rest = line.strip().partition(" ")
            if name == entry.slug and "REG_" in rest:
                return rest.strip().split(None, 1)[1] if len(rest.split(None, 1)) > 1 else ""
        return None

    def status(self, entry: Entry, host: Host) -> Registration:
        value = self._value(entry, host)
        if value is None:
            return Registration(False, False, False, "", "", self.name)
        approved = self._value(entry, host, APPROVED_KEY)
        enabled = approved is None or not _odd_first_byte(approved)
        here, why = points_here(split(value), entry.root)
        detail = why if enabled else f"disabled in Task Manager's startup apps; {why}"
        return Registration(True, enabled, here, f"{RUN_KEY}\\{entry.slug}", detail, self.name)


def _odd_first_byte(value: str) -> bool:
    """StartupApproved's binary value: an odd first byte (03, 07) means disabled in Task Manager."""
    try:
        return int(value.strip()[:2], 16) % 2 == 1
    except ValueError:
        return False
