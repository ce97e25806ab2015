"""macOS: a LaunchAgent in `~/Library/LaunchAgents`. The orchestrator's runs at load (login) and is kept
alive unless it exits cleanly; launchd has no start delay, so the command's `--boot` waits `[boot] delay`
itself. The backup's runs at `StartCalendarInterval` (launchd runs a missed interval on wake).
"""

from __future__ import annotations

import plistlib
from pathlib import Path
from typing import Any

from autonomic import atomic
from autonomic.errors import RegistrationError
from autonomic.platform.entry import Entry, Purpose, Registration, points_here
from autonomic.platform.host import Host


def render(entry: Entry) -> bytes:
    plist: dict[str, Any] = {
        "Label": entry.label,
        "ProgramArguments": list(entry.argv),
        "WorkingDirectory": str(entry.root),
        "EnvironmentVariables": {"PYTHONUNBUFFERED": "1"},
        "StandardOutPath": str(entry.log),
        "StandardErrorPath": str(entry.log),
        "ProcessType": "Background",
    }
    if entry.purpose is Purpose.BOOT:
        plist |= {
            "RunAtLoad": True,
            "KeepAlive": {"SuccessfulExit": False},
            "ThrottleInterval": max(1, round(entry.restart_after)),
            "AbandonProcessGroup": True,
        }
    else:
        hour, minute = entry.at
        plist |= {
            "RunAtLoad": False,
            "StartCalendarInterval": {"Hour": hour, "Minute": minute},
            "LowPriorityIO": True,
        }
    return plistlib.dumps(plist, fmt=plistlib.FMT_XML, sort_keys=True)


class LaunchAgent:
    name = "launchd"

    def path(self, entry: Entry, host: Host) -> Path:
        return host.home / "Library" / "LaunchAgents" / f"{entry.label}.plist"

    def _domain(self, host: Host) -> str:
        return f"gui/{host.uid}"

    def register(self, entry: Entry, host: Host) -> list[str]:
        path = self.path(entry, host)
        atomic.write_bytes(path, render(entry), mode=0o644)
        said = [f"wrote {path}"]
        host.run(["launchctl", "bootout", f"{self._domain(host)}/{entry.label}"], None)  # reload if loaded
        host.run(["launchctl", "enable", f"{self._domain(host)}/{entry.label}"], None)
        loaded = host.run(["launchctl", "bootstrap", self._domain(host), str(path)], None)
        if not loaded.ok:
            raise RegistrationError(
                f"launchctl bootstrap {self._domain(host)} {path} failed: {loaded.reason()}"
            )
        said.append(f"loaded {entry.label} into {self._domain(host)} (launchctl bootstrap)")
        return said

    def unregister(self, entry: Entry, host: Host) -> list[str]:
        path = self.path(entry, host)
        if not path.exists():
            return []
        host.run(["launchctl", "bootout", f"{self._domain(host)}/{entry.label}"], None)
        path.unlink()
        return [f"unloaded {entry.label} and removed {path}"]

    def status(self, entry: Entry, host: Host) -> Registration:
        path = self.path(entry, host)
        if not path.is_file():
            return Registration(False, False, False, "", "", self.name)
        plist = plistlib.loads(path.read_bytes())
        argv = [str(a) for a in plist.get("ProgramArguments", [])]
        here, why = points_here(argv, entry.root)
        disabled = host.run(["launchctl", "print-disabled", self._domain(host)], None)
        enabled = not (disabled.ok and f'"{entry.label}" => disabled' in disabled.out) and not plist.get(
            "Disabled"
        )
        loaded = host.run(["launchctl", "print", f"{self._domain(host)}/{entry.label}"], None).ok
        detail = why + ("" if loaded else "; not loaded now (it loads at the next login)")
        if not enabled:
            detail = f"disabled (launchctl enable {self._domain(host)}/{entry.label}); {detail}"
        return Registration(True, enabled, here, str(path), detail, self.name)
