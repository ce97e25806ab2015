"""Desktop notifications for alerts, where the OS has a way: `notify-send` (Linux), `osascript`
(macOS), a PowerShell toast (Windows). Fire and forget: a missing tool or a failure is logged once and
never stops the monitor. The spawner is a seam so tests can see what would run."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence

log = logging.getLogger("autonomic.monitor")
Spawner = Callable[[Sequence[str]], object]


def command_for(title: str, body: str, platform: str = sys.platform) -> list[str] | None:
    """The argv that shows a notification on `platform`, or None where there is no way."""
    if platform == "darwin":
        script = f"display notification {_applescript(body)} with title {_applescript(title)}"
        return ["osascript", "-e", script]
    if platform == "win32":
        return ["powershell", "-NoProfile", "-NonInteractive", "-Command", _toast(title, body)]
    if shutil.which("notify-send"):
        return ["notify-send", "--app-name=autonomic", title, body]
    return None


class DesktopNotifier:
    """Shows each alert as a desktop notification; says once if it cannot."""

    def __init__(self, spawner: Spawner | None = None, platform: str = sys.platform) -> None:
        self.spawner = spawner or _spawn
        self.platform = platform
        self._warned = False

    def __call__(self, title: str, body: str) -> None:
        argv = command_for(title, body, self.platform)
        if argv is None:
            self._warn("no desktop notification tool found (notify-send, osascript, powershell)")
            return
        try:
            self.spawner(argv)
        except OSError as exc:
            self._warn(f"desktop notification failed: {exc}")

    def _warn(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning(message)


def _spawn(argv: Sequence[str]) -> object:
    return subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=True,
    )


def _applescript(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toast(title: str, body: str) -> str:
    def quoted(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    return (
        "[Windows.UI.Notifications.ToastNotificationManager, Windows.UI.Notifications,"
        " ContentType=WindowsRuntime]"
        " | Out-Null; "
        "$t = [Windows.UI.Notifications.ToastNotificationManager]::GetTemplateContent("
        "[Windows.UI.Notifications.ToastTemplateType]::ToastText02); "
        "$x = $t.GetElementsByTagName('text'); "
        f"$x.Item(0).AppendChild($t.CreateTextNode({quoted(title)})) | Out-Null; "
        f"$x.Item(1).AppendChild($t.CreateTextNode({quoted(body)})) | Out-Null; "
        "[Windows.UI.Notifications.ToastNotificationManager]::CreateToastNotifier('autonomic')"
        ".Show([Windows.UI.Notifications.ToastNotification]::new($t))"
    )
