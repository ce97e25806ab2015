"""Linux (or any Unix) without a systemd user instance: a line in the user's crontab, `@reboot` for the
orchestrator (it starts at boot, without a login) and `M H * * *` for the daily backup. Cron has no
catch-up for a missed time; the orchestrator's overdue-backup job covers that.

Each line we own sits under a marker comment `# autonomic:<slug>`, so unregister removes exactly it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

import psutil

from autonomic.errors import RegistrationError
from autonomic.platform.entry import Entry, Purpose, Registration, points_here
from autonomic.platform.host import Host

_MARKER = "# autonomic:"
_REDIRECT = re.compile(r"""\s+>>\s*((?:'[^']*'|"[^"]*"|[^\s'"]+)+)\s+2>&1\s*$""")
_FIELD = re.compile(r"^[\d*/,\-]+$")


@dataclass(frozen=True)
class CronLine:
    schedule: str  # "@reboot" or the five time fields
    argv: list[str]
    log: str = ""
    enabled: bool = True


def render_line(entry: Entry) -> str:
    if entry.purpose is Purpose.BOOT:
        schedule = "@reboot"
    else:
        hour, minute = entry.at
        schedule = f"{minute} {hour} * * *"
    command = " ".join(shlex.quote(arg) for arg in entry.argv).replace("%", "\\%")
    log = shlex.quote(str(entry.log)).replace("%", "\\%") if str(entry.log) not in ("", ".") else "/dev/null"
    return f"{schedule} {command} >> {log} 2>&1"


def render_block(entry: Entry) -> list[str]:
    return [
        f"{_MARKER}{entry.slug} {entry.description} (written by autonomic; edit with care)",
        render_line(entry),
    ]


def parse_line(line: str) -> CronLine:
    """A crontab line we wrote: its schedule, the command as argv, the log it appends to."""
    text = line.strip()
    enabled = not text.startswith("#")
    text = text.lstrip("#").strip()
    if text.startswith("@"):
        schedule, _, rest = text.partition(" ")
    else:
        fields = text.split(None, 5)
        if len(fields) < 6 or not all(_FIELD.match(f) for f in fields[:5]):
            raise ValueError(f"not a crontab entry: {line!r}")
        schedule, rest = " ".join(fields[:5]), fields[5]
    log = ""
    if match := _REDIRECT.search(rest):
        log = shlex.split(match.group(1))[0]
        rest = rest[: match.start()]
    argv = shlex.split(rest.replace("\\%", "%"))
    return CronLine(schedule, argv, log.replace("\\%", "%"), enabled)


def daemon_running() -> bool:
    """Whether a cron daemon runs (the table is only read by one): a cheap scan of process names."""
    names = {"cron", "crond", "cronie", "anacron", "fcron", "dcron"}
    try:
        return any(proc.info["name"] in names for proc in psutil.process_iter(["name"]))
    except psutil.Error:
        return False


def find(lines: Sequence[str], slug: str) -> int | None:
    """The index of our marker line for `slug`, if any."""
    for index, line in enumerate(lines):
        if line.startswith(_MARKER) and line[len(_MARKER) :].split(" ", 1)[0] == slug:
            return index
    return None


def without(lines: list[str], slug: str) -> list[str]:
    index = find(lines, slug)
    if index is None:
        return lines
    end = index + 2 if index + 1 < len(lines) and not lines[index + 1].startswith(_MARKER) else index + 1
    return lines[:index] + lines[end:]


class Crontab:
    name = "cron"

    def read(self, host: Host) -> list[str] | None:
        """The user's crontab lines; None when there is no crontab tool."""
        if not host.has("crontab"):
            return None
        answer = host.run(["crontab", "-l"], None)
        if answer.ok:
            return answer.out.splitlines()
        if "no crontab" in (answer.err + answer.out).lower():
            return []
        raise RegistrationError(f"crontab -l failed: {answer.reason()}")

    def write(self, host: Host, lines: list[str]) -> None:
        text = "\n".join(lines) + "\n" if lines else ""
        answer = host.run(["crontab", "-"], text)
        if not answer.ok:
            raise RegistrationError(f"crontab - failed: {answer.reason()}")

    def register(self, entry: Entry, host: Host) -> list[str]:
        lines = self.read(host)
        if lines is None:
            raise RegistrationError("no crontab command here")
        updated = without(lines, entry.slug) + render_block(entry)
        if updated != lines:
            self.write(host, updated)
        return [f"wrote the crontab line of {host.user}: {render_line(entry)}"]

    def unregister(self, entry: Entry, host: Host) -> list[str]:
        lines = self.read(host)
        if not lines or find(lines, entry.slug) is None:
            return []
        self.write(host, without(lines, entry.slug))
        return [f"removed the {entry.purpose.value} line from the crontab of {host.user}"]

    def status(self, entry: Entry, host: Host) -> Registration:
        lines = self.read(host)
        index = find(lines or [], entry.slug)
        if lines is None or index is None or index + 1 >= len(lines):
            return Registration(False, False, False, "", "", self.name)
        line = parse_line(lines[index + 1])
        here, why = points_here(line.argv, entry.root)
        expected = "@reboot" if entry.purpose is Purpose.BOOT else None
        if expected and line.schedule != expected:
            why += f"; runs at {line.schedule!r}, not {expected}"
        detail = why if line.enabled else f"the line is commented out; {why}"
        if not daemon_running():
            detail += "; no cron daemon is running right now (it runs the line once one does)"
        return Registration(
            True, line.enabled, here, f"crontab of {host.user} ({line.schedule})", detail, self.name
        )
