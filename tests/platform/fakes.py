"""A stand-in for the OS tools registration drives (`crontab`, `systemctl`, `loginctl`, `launchctl`,
`schtasks`, `reg`) on machines that lack the OS service behind them. It keeps the state those tools
would keep, so register -> status -> unregister is checked against what a real tool would answer."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path

from autonomic.platform.host import Host, Outcome


@dataclasses.dataclass
class FakeTools:
    installed: set[str] = dataclasses.field(default_factory=set)
    crontab: str | None = None
    systemd_state: str = ""  # what `systemctl --user is-system-running` prints ("" = no instance)
    enabled_units: set[str] = dataclasses.field(default_factory=set)
    linger: bool = False
    loaded_labels: set[str] = dataclasses.field(default_factory=set)
    disabled_labels: set[str] = dataclasses.field(default_factory=set)
    tasks: dict[str, str] = dataclasses.field(default_factory=dict)
    refuse_tasks: bool = False
    registry: dict[tuple[str, str], str] = dataclasses.field(default_factory=dict)
    calls: list[list[str]] = dataclasses.field(default_factory=list)

    def host(self, system: str, home: Path) -> Host:
        return Host(
            system=system, home=home, run=self, which=self.which, user="alice", uid=501, xdg_config=None
        )

    def which(self, tool: str) -> str | None:
        return f"/usr/bin/{tool}" if tool in self.installed else None

    def __call__(self, argv: Sequence[str], stdin: str | None) -> Outcome:
        argv = list(argv)
        self.calls.append(argv)
        if argv[0] not in self.installed:
            return Outcome(127, err=f"{argv[0]}: not installed")
        handler = getattr(self, "_" + argv[0])
        result: Outcome = handler(argv[1:], stdin)
        return result

    def _crontab(self, args: list[str], stdin: str | None) -> Outcome:
        if args == ["-l"]:
            if self.crontab is None:
                return Outcome(1, err="no crontab for alice")
            return Outcome(0, out=self.crontab)
        if args == ["-"]:
            self.crontab = stdin or ""
            return Outcome(0)
        return Outcome(2, err="usage")

    def _systemctl(self, args: list[str], stdin: str | None) -> Outcome:
        assert args[0] == "--user"
        verb, rest = args[1], args[2:]
        if not self.systemd_state:
            return Outcome(1, err="Failed to connect to bus: No medium found")
        if verb == "is-system-running":
            return Outcome(0 if self.systemd_state == "running" else 1, out=self.systemd_state + "\n")
        if verb == "daemon-reload":
            return Outcome(0)
        if verb == "enable":
            self.enabled_units.add(rest[-1])
            return Outcome(0)
        if verb == "disable":
            self.enabled_units.discard(rest[-1])
            return Outcome(0)
        if verb == "is-enabled":
            unit = rest[-1]
            return Outcome(0, out="enabled\n") if unit in self.enabled_units else Outcome(1, out="disabled\n")
        if verb == "start":
            return Outcome(0)
        return Outcome(1, err=f"unknown verb {verb}")

    def _loginctl(self, args: list[str], stdin: str | None) -> Outcome:
        if args[0] == "enable-linger":
            self.linger = True
            return Outcome(0)
        if args[0] == "show-user":
            return Outcome(0, out=("yes" if self.linger else "no") + "\n")
        return Outcome(1)

    def _launchctl(self, args: list[str], stdin: str | None) -> Outcome:
        verb = args[0]
        if verb == "bootstrap":
            label = Path(args[2]).stem
            self.loaded_labels.add(label)
            return Outcome(0)
        if verb == "bootout":
            label = args[1].rsplit("/", 1)[-1]
            if label not in self.loaded_labels:
                return Outcome(3, err="No such process")
            self.loaded_labels.discard(label)
            return Outcome(0)
        if verb == "enable":
            self.disabled_labels.discard(args[1].rsplit("/", 1)[-1])
            return Outcome(0)
        if verb == "print-disabled":
            lines = [f'\t"{label}" => disabled' for label in sorted(self.disabled_labels)]
            return Outcome(0, out="disabled services = {\n" + "\n".join(lines) + "\n}\n")
        if verb == "print":
            return Outcome(0) if args[1].rsplit("/", 1)[-1] in self.loaded_labels else Outcome(113)
        return Outcome(1)

    def _schtasks(self, args: list[str], stdin: str | None) -> Outcome:
        verb = args[0]
        name = args[args.index("/TN") + 1]
        if verb == "/Create":
            if self.refuse_tasks:
                return Outcome(1, err="ERROR: Access is denied.")
            raw = Path(args[args.index("/XML") + 1]).read_bytes()
            assert raw.startswith(b"\xff\xfe"), "schtasks wants UTF-16 with a BOM"
            self.tasks[name] = raw.decode("utf-16")
            return Outcome(0, out=f'SUCCESS: The scheduled task "{name}" has successfully been created.')
        if name not in self.tasks:
            return Outcome(1, err="ERROR: The system cannot find the file specified.")
        if verb == "/Query":
            return Outcome(0, out=self.tasks[name] if "/XML" in args else name)
        if verb == "/Delete":
            del self.tasks[name]
            return Outcome(0)
        return Outcome(1)

    def _reg(self, args: list[str], stdin: str | None) -> Outcome:
        verb, key, name = args[0], args[1], args[args.index("/v") + 1]
        if verb == "add":
            self.registry[(key, name)] = args[args.index("/d") + 1]
            return Outcome(0)
        if (key, name) not in self.registry:
            return Outcome(1, err="ERROR: The system was unable to find the specified registry key or value.")
        if verb == "query":
            kind = "REG_BINARY" if "StartupApproved" in key else "REG_SZ"
            return Outcome(0, out=f"\n{key}\n    {name}    {kind}    {self.registry[(key, name)]}\n")
        if verb == "delete":
            del self.registry[(key, name)]
            return Outcome(0)
        return Outcome(1)


def crontab_lines(tools: FakeTools) -> list[str]:
    return [line for line in (tools.crontab or "").splitlines() if line.strip()]


def only_marker(lines: list[str]) -> list[str]:
    return [line for line in lines if re.match(r"# autonomic:", line)]
