"""The idle benchmark's peers (benchmarks/idle.py): supervisord and PM2 each keeping N idle programs,
built on benchmarks/mttr_peers.py (same install, daemon pid and shutdown), and every process remembered
with its start time so that only our own, never a recycled pid, is killed at the end."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from mttr_peers import PM2, PYTHON, PeerError, Supervisord, kill_pid, wait_gone

SLEEPER = "import signal\n\nsignal.pause()\n"


@dataclass(frozen=True)
class Pid:
    pid: int
    created: float

    @classmethod
    def of(cls, pid: int) -> Pid | None:
        try:
            return cls(pid, psutil.Process(pid).create_time())
        except psutil.Error:
            return None

    def alive(self) -> bool:
        try:
            proc = psutil.Process(self.pid)
            return proc.create_time() == self.created and proc.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def kill(self) -> bool:
        """SIGKILL if still the same process; True when it had to be killed."""
        if not self.alive():
            return False
        kill_pid(self.pid)
        wait_gone(self.pid, 3.0)
        return True


# --- the peers: supervisord and PM2 keeping N sleepers ---------------------------------------------------
class Sleepers:
    """The idle programs a peer supervises: `python idle_sleeper.py` in the peer's folder."""

    def __init__(self, root: Path, count: int) -> None:
        self.count = count
        self.script = root / "idle_sleeper.py"
        self.script.write_text(SLEEPER, encoding="utf-8")
        self.seen: set[Pid] = set()

    def record(self, daemon: int | None) -> None:
        """Remember the daemon and its sleepers (pid and start time), to kill any that outlive stop()."""
        if daemon and (pid := Pid.of(daemon)):
            self.seen.add(pid)
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(daemon or 0).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    if str(self.script) in child.cmdline() and (pid := Pid.of(child.pid)):
                        self.seen.add(pid)

    def kill_leftovers(self, name: str) -> list[str]:
        return [f"{name}: pid {p.pid} survived shutdown; SIGKILLed" for p in self.seen if p.kill()]


class IdleSupervisord(Supervisord):
    def __init__(self, root: Path, programs: int) -> None:
        super().__init__(root, startsecs=1)
        self.sleepers = Sleepers(self.root, programs)
        self.note = f"{programs} x [program:idleN] python idle_sleeper.py, autorestart=true, startsecs=1; nodaemon=true"

    def start(self) -> None:
        r = self.root
        programs = "".join(
            f"\n[program:idle{n}]\ncommand={PYTHON} {self.sleepers.script}\nautostart=true\n"
            f"autorestart=true\nstartsecs=1\nstdout_logfile={r / f'idle{n}.log'}\nredirect_stderr=true\n"
            for n in range(self.sleepers.count)
        )
        self.conf.write_text(
            f"[unix_http_server]\nfile={self.sock}\n\n[supervisord]\nnodaemon=true\n"
            f"logfile={r / 'supervisord.log'}\npidfile={r / 'supervisord.pid'}\nchildlogdir={r}\n\n"
            "[rpcinterface:supervisor]\n"
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n"
            f"[supervisorctl]\nserverurl=unix://{self.sock}\n{programs}",
            encoding="utf-8",
        )
        with open(r / "supervisord.out", "ab") as out:
            self._popen = subprocess.Popen(
                [str(Path(PYTHON).parent / "supervisord"), "-c", str(self.conf)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )

    def running(self) -> int:
        try:  # supervisorctl status exits non-zero while any program is not RUNNING
            return self._ctl("status").count(" RUNNING ")
        except PeerError:
            return 0

    def stop(self) -> list[str]:
        self.sleepers.record(self.daemon_pid())
        return super().stop() + self.sleepers.kill_leftovers(self.name)


class IdlePM2(PM2):
    def __init__(self, root: Path, programs: int) -> None:
        super().__init__(root)
        self.sleepers = Sleepers(self.root, programs)
        self.note = f"{programs} apps python idle_sleeper.py, fork mode, defaults; own PM2_HOME"

    def start(self) -> None:
        apps = [
            {
                "name": f"idle{n}",
                "script": str(self.sleepers.script),
                "interpreter": PYTHON,
                "exec_mode": "fork",
                "out_file": str(self.root / f"idle{n}.out.log"),
                "error_file": str(self.root / f"idle{n}.err.log"),
            }
            for n in range(self.sleepers.count)
        ]
        eco = self.root / "ecosystem.json"
        eco.write_text(json.dumps({"apps": apps}, indent=2), encoding="utf-8")
        self._pm2("start", str(eco))

    def running(self) -> int:
        try:
            apps = json.loads(self._pm2("jlist"))
        except (PeerError, ValueError):
            return 0
        return sum(1 for app in apps if app.get("pm2_env", {}).get("status") == "online")

    def stop(self) -> list[str]:
        self.sleepers.record(self.daemon_pid())
        return super().stop() + self.sleepers.kill_leftovers(self.name)


def wait_peer(peer: IdleSupervisord | IdlePM2, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if peer.running() >= peer.sleepers.count and peer.daemon_pid():
            peer.sleepers.record(peer.daemon_pid())
            return
        time.sleep(0.5)
    raise PeerError(f"{peer.name}: not all {peer.sleepers.count} programs running after {timeout:g}s")
