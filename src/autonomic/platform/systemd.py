"""Linux with a systemd user instance: a user unit for the orchestrator (enabled for `default.target`),
a oneshot unit plus a timer (`OnCalendar`, `Persistent=true` for catch-up) for the daily backup.

The orchestrator unit restarts it whenever it dies (`Restart=always`, no start-limit give-up), except
after a clean exit (`RestartPreventExitStatus=0`: `autonomic down`, or another orchestrator already
holds the workspace). `KillMode=process`: services run in their own sessions and outlive the
orchestrator by design; a restarted orchestrator adopts them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from autonomic import atomic
from autonomic.errors import RegistrationError
from autonomic.platform.entry import Entry, Purpose, Registration, points_here
from autonomic.platform.host import Host

_SPECIAL = set(" \t\n\"'\\;")


def quote(arg: str) -> str:
    """One ExecStart argument: `%` and `$` doubled (specifiers, variables), quoted when it needs it."""
    text = arg.replace("%", "%%").replace("$", "$$")
    if text and not (_SPECIAL & set(text)):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def command_line(argv: Sequence[str]) -> str:
    return " ".join(quote(arg) for arg in argv)


def split(line: str) -> list[str]:
    """The inverse of `command_line` (systemd's own word splitting for what we write)."""
    words: list[str] = []
    current: list[str] = []
    quoted = in_word = False
    i = 0
    while i < len(line):
        char = line[i]
        if quoted:
            if char == "\\" and i + 1 < len(line):
                nxt = line[i + 1]
                current.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
                i += 2
                continue
            if char == '"':
                quoted = False
            else:
                current.append(char)
        elif char == '"':
            quoted = in_word = True
        elif char in " \t":
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
        else:
            current.append(char)
            in_word = True
        i += 1
    if in_word:
        words.append("".join(current))
    return [w.replace("%%", "%").replace("$$", "$") for w in words]


def render_service(entry: Entry) -> str:
    cwd = str(entry.root).replace("%", "%%")  # a path setting: the rest of the line, specifiers only
    if entry.purpose is Purpose.BOOT:
        return (
            "[Unit]\n"
            f"Description={entry.description}\n"
            "StartLimitIntervalSec=0\n"
            "\n"
            "[Service]\n"
            "Type=simple\n"
            f"ExecStart={command_line(entry.argv)}\n"
            f"WorkingDirectory={cwd}\n"
            "Environment=PYTHONUNBUFFERED=1\n"
            "Restart=always\n"
            f"RestartSec={max(1, round(entry.restart_after))}\n"
            "RestartPreventExitStatus=0\n"
            "KillMode=process\n"
            "TimeoutStopSec=120\n"
            "\n"
            "[Install]\n"
            "WantedBy=default.target\n"
        )
    return (
        "[Unit]\n"
        f"Description={entry.description}\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"ExecStart={command_line(entry.argv)}\n"
        f"WorkingDirectory={cwd}\n"
        "Environment=PYTHONUNBUFFERED=1\n"
        "Nice=10\n"
        "IOSchedulingClass=idle\n"
    )


def render_timer(entry: Entry) -> str:
    hour, minute = entry.at
    return (
        "[Unit]\n"
        f"Description=Run the {entry.description} daily at {hour:02d}:{minute:02d}\n"
        "\n"
        "[Timer]\n"
        f"OnCalendar=*-*-* {hour:02d}:{minute:02d}:00\n"
        "Persistent=true\n"
        f"Unit={entry.slug}.service\n"
        "\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    )


def exec_start(unit_text: str) -> list[str]:
    for line in unit_text.splitlines():
        if line.startswith("ExecStart="):
            return split(line.removeprefix("ExecStart="))
    return []


class UserUnit:
    name = "systemd"

    def folder(self, host: Host) -> Path:
        return host.config_home / "systemd" / "user"

    def files(self, entry: Entry, host: Host) -> dict[str, Path]:
        folder = self.folder(host)
        files = {"service": folder / f"{entry.slug}.service"}
        if entry.purpose is Purpose.BACKUP:
            files["timer"] = folder / f"{entry.slug}.timer"
        return files

    def _enabled_unit(self, entry: Entry) -> str:
        return f"{entry.slug}.service" if entry.purpose is Purpose.BOOT else f"{entry.slug}.timer"

    def _wants_link(self, entry: Entry, host: Host) -> Path:
        target = "default.target" if entry.purpose is Purpose.BOOT else "timers.target"
        return self.folder(host) / f"{target}.wants" / self._enabled_unit(entry)

    def register(self, entry: Entry, host: Host) -> list[str]:
        files = self.files(entry, host)
        atomic.write_text(files["service"], render_service(entry), mode=0o644)
        said = [f"wrote {files['service']}"]
        if "timer" in files:
            atomic.write_text(files["timer"], render_timer(entry), mode=0o644)
            said.append(f"wrote {files['timer']}")
        unit = self._enabled_unit(entry)
        for argv in (["systemctl", "--user", "daemon-reload"], ["systemctl", "--user", "enable", unit]):
            outcome = host.run(argv, None)
            if not outcome.ok:
                for path in files.values():  # leave nothing half-registered
                    path.unlink(missing_ok=True)
                raise RegistrationError(f"{' '.join(argv)} failed: {outcome.reason()}")
        said.append(f"enabled {unit} (systemctl --user enable)")
        if entry.purpose is Purpose.BACKUP:
            started = host.run(["systemctl", "--user", "start", unit], None)
            if started.ok:
                said.append(f"started {unit}")
        return said

    def unregister(self, entry: Entry, host: Host) -> list[str]:
        files = self.files(entry, host)
        if not any(p.exists() for p in files.values()) and not self._wants_link(entry, host).is_symlink():
            return []
        unit = self._enabled_unit(entry)
        said: list[str] = []
        if host.has("systemctl"):
            host.run(["systemctl", "--user", "disable", "--now", unit], None)
            said.append(f"disabled {unit}")
        link = self._wants_link(entry, host)
        if link.is_symlink() or link.exists():
            link.unlink()
        for path in files.values():
            if path.exists():
                path.unlink()
                said.append(f"removed {path}")
        if host.has("systemctl"):
            host.run(["systemctl", "--user", "daemon-reload"], None)
        return said

    def status(self, entry: Entry, host: Host) -> Registration:
        files = self.files(entry, host)
        service = files["service"]
        if not service.is_file() or ("timer" in files and not files["timer"].is_file()):
            return Registration(False, False, False, "", "", self.name)
        argv = exec_start(service.read_text(encoding="utf-8"))
        here, why = points_here(argv, entry.root)
        unit = self._enabled_unit(entry)
        answer = host.run(["systemctl", "--user", "is-enabled", unit], None)
        enabled = answer.out.strip() == "enabled" if answer.code != 127 else False
        if answer.code not in (0, 1) or not answer.out.strip():
            enabled = self._wants_link(entry, host).exists()
        detail = why if enabled else f"{unit} is not enabled; {why}"
        if entry.purpose is Purpose.BOOT:
            detail += "; " + linger_state(host)
        where = ", ".join(str(p) for p in files.values())
        return Registration(True, enabled, here, where, detail, self.name)


def linger_state(host: Host) -> str:
    answer = host.run(["loginctl", "show-user", host.user, "--property=Linger", "--value"], None)
    if answer.ok and answer.out.strip() in ("yes", "no"):
        if answer.out.strip() == "yes":
            return "lingering on (starts at boot without a login)"
        return "lingering off (starts at login; 'autonomic boot register --linger' starts it at boot)"
    return "lingering unknown (loginctl unavailable)"


def enable_linger(host: Host) -> str:
    outcome = host.run(["loginctl", "enable-linger", host.user], None)
    if not outcome.ok:
        raise RegistrationError(f"loginctl enable-linger {host.user} failed: {outcome.reason()}")
    return f"enabled lingering for {host.user} (loginctl enable-linger)"
