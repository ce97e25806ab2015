"""Linux desktops without a systemd user instance: an XDG autostart entry
(`~/.config/autostart/<slug>.desktop`) that starts the orchestrator at graphical login.

`Exec=` follows the Desktop Entry Specification: arguments with reserved characters are double-quoted
with `"`, `` ` ``, `$` and `\\` escaped, `%` is doubled, and the string-level `\\` escape applies on top.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from autonomic import atomic
from autonomic.errors import RegistrationError
from autonomic.platform.entry import Entry, Purpose, Registration, points_here
from autonomic.platform.host import Host

_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def quote(arg: str) -> str:
    text = arg.replace("%", "%%")
    if text and not (_RESERVED & set(text)):
        return text
    inner = "".join("\\" + c if c in '"`$\\' else c for c in text)
    return '"' + inner.replace("\\", "\\\\") + '"'


def exec_line(argv: Sequence[str]) -> str:
    return " ".join(quote(arg) for arg in argv)


def split(value: str) -> list[str]:
    """The inverse of `exec_line`: undo the string escape, then the quoting, then `%%`."""
    text = value.replace("\\\\", "\\")
    words: list[str] = []
    current: list[str] = []
    quoted = in_word = False
    i = 0
    while i < len(text):
        char = text[i]
        if quoted and char == "\\" and i + 1 < len(text):
            current.append(text[i + 1])
            i += 2
            continue
        if char == '"':
            quoted = not quoted
            in_word = True
        elif char in " \t" and not quoted:
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
        else:
            current.append(char)
            in_word = True
        i += 1
    if in_word:
        words.append("".join(current))
    return [w.replace("%%", "%") for w in words]


def render(entry: Entry) -> str:
    if entry.purpose is not Purpose.BOOT:
        raise RegistrationError("XDG autostart runs at login only; it cannot schedule a daily backup")
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        f"Name=autonomic ({entry.root.name})\n"
        f"Comment={entry.description}\n"
        f"Exec={exec_line(entry.argv)}\n"
        f"Path={entry.root}\n"
        "Terminal=false\n"
        "NoDisplay=true\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def parse(text: str) -> dict[str, str]:
    """The `[Desktop Entry]` group's keys."""
    keys: dict[str, str] = {}
    group = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1]
            continue
        if group == "Desktop Entry" and "=" in line:
            key, _, value = line.partition("=")
            keys[key.strip()] = value.strip()
    return keys


class Autostart:
    name = "xdg-autostart"

    def path(self, entry: Entry, host: Host) -> Path:
        return host.config_home / "autostart" / f"{entry.slug}.desktop"

    def register(self, entry: Entry, host: Host) -> list[str]:
        path = self.path(entry, host)
        atomic.write_text(path, render(entry), mode=0o644)
        return [f"wrote {path} (starts the orchestrator at graphical login)"]

    def unregister(self, entry: Entry, host: Host) -> list[str]:
        path = self.path(entry, host)
        if not path.exists():
            return []
        path.unlink()
        return [f"removed {path}"]

    def status(self, entry: Entry, host: Host) -> Registration:
        path = self.path(entry, host)
        if entry.purpose is not Purpose.BOOT or not path.is_file():
            return Registration(False, False, False, "", "", self.name)
        keys = parse(path.read_text(encoding="utf-8"))
        enabled = (
            keys.get("Hidden", "false") != "true" and keys.get("X-GNOME-Autostart-enabled", "true") != "false"
        )
        here, why = points_here(split(keys.get("Exec", "")), entry.root)
        detail = why if enabled else f"disabled (Hidden or X-GNOME-Autostart-enabled=false); {why}"
        return Registration(True, enabled, here, str(path), detail, self.name)
