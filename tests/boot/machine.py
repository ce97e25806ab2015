"""A user's machine for the CLI and reboot tests: a temporary HOME, a PATH whose `crontab` keeps its table
in a file and whose `systemctl` answers like a machine without a systemd user instance (so registration
takes the cron / XDG path on any Linux), and a workspace folder."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

from autonomic.queue.client import QueueClient
from autonomic.workspace import Workspace
from tests.helpers import PYTHON, free_port

FAKE_CRONTAB = f"""#!{PYTHON}
import os, sys
store = os.environ["FAKE_CRONTAB"]
if sys.argv[1:] == ["-l"]:
    if not os.path.exists(store):
        sys.exit("no crontab for " + os.environ.get("LOGNAME", "user"))
    sys.stdout.write(open(store).read())
elif sys.argv[1:] == ["-"]:
    open(store, "w").write(sys.stdin.read())
else:
    sys.exit("usage: crontab -l | crontab -")
"""
FAKE_SYSTEMCTL = "#!/bin/sh\necho 'Failed to connect to bus: No medium found' >&2\nexit 1\n"


class Machine:
    """The user's side of the machine: a home folder, a PATH with the stand-in tools, the workspace."""

    def __init__(self, base: Path) -> None:
        self.home = base / "home"
        self.bin = base / "bin"
        self.crontab = base / "crontab.txt"
        self.root = base / "ws"
        for folder in (self.home, self.bin, self.root):
            folder.mkdir()
        for name, text in (("crontab", FAKE_CRONTAB), ("systemctl", FAKE_SYSTEMCTL)):
            tool = self.bin / name
            tool.write_text(text)
            tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
        self.workspace = Workspace.at(self.root)
        self.port = free_port()

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("XDG_CONFIG_HOME", "AUTONOMIC_WORKSPACE")}
        env.update(
            HOME=str(self.home),
            PATH=f"{self.bin}{os.pathsep}{env.get('PATH', '')}",
            FAKE_CRONTAB=str(self.crontab),
            NO_COLOR="1",
            COLUMNS="200",
        )
        return env

    def cron_env(self) -> dict[str, str]:
        """What cron gives an `@reboot` command: next to nothing."""
        return {
            "HOME": str(self.home),
            "LOGNAME": os.environ.get("LOGNAME", "root"),
            "SHELL": "/bin/sh",
            "PATH": f"{self.bin}:/usr/bin:/bin",
            "FAKE_CRONTAB": str(self.crontab),
        }

    def init(self) -> None:
        init = [PYTHON, "-m", "autonomic", "init", str(self.root)]  # the folder, not --workspace
        subprocess.run(init, env=self.env(), check=True, capture_output=True, timeout=60)

    def cli(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PYTHON, "-m", "autonomic", *args, "--workspace", str(self.root)],
            env=self.env(),
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def must(self, *args: str, timeout: float = 120.0) -> str:
        done = self.cli(*args, timeout=timeout)
        assert done.returncode == 0, f"autonomic {' '.join(args)}: {done.stdout}\n{done.stderr}"
        return done.stdout

    def health(self) -> dict[str, Any]:
        done = self.cli("health", "--json", timeout=30)
        try:
            report: dict[str, Any] = json.loads(done.stdout)
        except ValueError:
            return {"passed": 0, "total": 8, "checks": [], "raw": done.stdout + done.stderr}
        return report

    def queue(self) -> QueueClient:
        return QueueClient(
            f"http://127.0.0.1:{self.port}", token=self.workspace.token_file.read_text().strip()
        )
