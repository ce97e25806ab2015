"""Workspaces for the health and watchdog tests: real stacks on free ports, driven through the real CLI,
with the OS registrations kept out of the user's real HOME."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from autonomic import scaffold
from autonomic.supervisor import markers
from autonomic.workspace import Workspace
from tests.helpers import alive, free_port, run_cli, wait_until


class Site:
    """A workspace with the core stack (or part of it) on free ports."""

    def __init__(self, root: Path, home: Path) -> None:
        self.root = root
        self.home = home
        self.workspace = Workspace.at(root)
        scaffold.init(self.workspace)

    def configure(
        self,
        queue: bool = True,
        worker: bool = True,
        monitor: bool = True,
        watchdog: str | None = "30s",
        extra: str = "",
        queue_port: int | None = None,
        watchdog_timeout: str = "5s",
    ) -> None:
        """Write autonomic.toml: the chosen core services, no OS registration wanted (tests must not
        register anything with the machine), and `extra` TOML."""
        lines = [
            "[queue]",
            f"enabled = {_toml(queue)}",
            f"port = {queue_port or free_port()}",
            "[worker]",
            f"enabled = {_toml(worker)}",
            "[monitor]",
            f"enabled = {_toml(monitor)}",
            f"port = {free_port()}",
            'interval = "1s"',
            'report_every = "2s"',
            "[watchdog]",
            f"enabled = {_toml(watchdog is not None)}",
            f'interval = "{watchdog or "30s"}"',
            f'timeout = "{watchdog_timeout}"',
            "[boot]",
            "enabled = false",
            "[backup]",
            "schedule = false",
            extra,
        ]
        self.workspace.config_file.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def cli(self, *args: str, timeout: float = 120.0) -> Any:
        return run_cli(*args, "--workspace", str(self.root), env={"HOME": str(self.home)}, timeout=timeout)

    def up(self) -> Any:
        result = self.cli("up", "--timeout", "90", timeout=180)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def health(self, *flags: str, timeout: float = 300.0) -> tuple[int, dict[str, Any]]:
        result = self.cli("health", "--json", *flags, timeout=timeout)
        assert result.stdout.strip(), result.stderr
        return result.returncode, dict(json.loads(result.stdout))

    def orchestrator_pid(self) -> int:
        return int(json.loads(self.workspace.control_file.read_text(encoding="utf-8"))["pid"])

    def service_pids(self) -> dict[str, list[int]]:
        """Every live main process of each service of this workspace, found in the process table."""
        found: dict[str, list[int]] = {}
        for proc in markers.find_services(self.root):
            found.setdefault(proc.service, []).append(proc.pid)
        return found

    def orchestrators(self) -> list[int]:
        return [found.pid for found in markers.find_orchestrators(self.root)]

    def watchdog_log(self) -> list[dict[str, Any]]:
        path = self.workspace.watchdog_log
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def wait_one_of_each(self, names: list[str], timeout: float = 60.0) -> dict[str, list[int]]:
        def settled() -> dict[str, list[int]] | None:
            pids = self.service_pids()
            return pids if all(len(pids.get(n, [])) == 1 for n in names) else None

        return wait_until(settled, timeout=timeout, interval=0.2, what=f"one process each of {names}")

    def down(self) -> None:
        self.cli("down", timeout=120)


def _toml(value: bool) -> str:
    return "true" if value else "false"


def kill9(pid: int) -> None:
    """SIGKILL one process and wait until it is gone (a zombie its parent has yet to reap counts as gone)."""
    os.kill(pid, 9)
    wait_until(lambda: not alive(pid), timeout=10, interval=0.01, what=f"pid {pid} to die")
