"""The supervisors the MTTR benchmark compares, each behind one small interface: set up and start (in
a private temporary folder, on its own free port), tell the service's pid the way a user would ask
(autonomic status --json, supervisorctl pid, pm2 jlist, the bash loop's child), tell the daemon's pid,
and stop everything it started, by pid."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
SERVER = HERE / "mttr_server.py"
PEERS_DIR = HERE / ".peers"
PM2_JS = PEERS_DIR / "node_modules" / "pm2" / "bin" / "pm2"
VENV_BIN = Path(sys.executable).parent
PYTHON = sys.executable


class PeerError(RuntimeError):
    """A supervisor could not be set up, started or asked for its service's pid."""


def _run(argv: list[str], env: dict[str, str] | None = None, timeout: float = 60.0) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PeerError(f"{' '.join(argv)}: {exc}") from exc
    if done.returncode != 0:
        raise PeerError(
            f"{' '.join(argv)} exited {done.returncode}: {(done.stderr or done.stdout).strip()[-2000:]}"
        )
    return done.stdout


def ensure_installed(log: Any = print) -> None:
    """Install the benchmark-only peers if missing: supervisor into this venv (pip), pm2 into
    benchmarks/.peers (npm). Nothing else is downloaded."""
    if not (VENV_BIN / "supervisord").exists():
        log("installing supervisor into this venv (pip install supervisor) ...")
        _run([PYTHON, "-m", "pip", "install", "--quiet", "supervisor"], timeout=600)
    if not PM2_JS.exists():
        if shutil.which("npm") is None or shutil.which("node") is None:
            raise PeerError("PM2 needs node and npm on PATH")
        log(f"installing pm2 into {PEERS_DIR} (npm install --prefix) ...")
        PEERS_DIR.mkdir(parents=True, exist_ok=True)
        _run(["npm", "install", "--prefix", str(PEERS_DIR), "--no-audit", "--no-fund", "pm2"], timeout=600)


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_argv(port: int) -> list[str]:
    return [PYTHON, str(SERVER), str(port)]


def kill_pid(pid: int | None, sig: int = signal.SIGKILL) -> None:
    if pid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def wait_gone(pid: int | None, timeout: float) -> bool:
    if not pid:
        return True
    try:
        psutil.Process(pid).wait(timeout)
    except psutil.NoSuchProcess:
        return True
    except psutil.TimeoutExpired:
        return False
    except psutil.Error:
        pass
    return not psutil.pid_exists(pid)


class Peer(ABC):
    """One supervisor under test, keeping one `mttr_server.py` alive on `self.port`."""

    name: str = ""
    note: str = ""

    def __init__(self, root: Path) -> None:
        self.root = root / self.name.split()[0]
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.seen_pids: set[int] = set()  # every service pid ever seen, killed at the end if alive

    @abstractmethod
    def start(self) -> None:
        """Start the supervisor and its service (returns once started; health is awaited by the caller)."""

    @abstractmethod
    def service_pid(self) -> int | None:
        """The service's pid, as the supervisor's own tool reports it."""

    @abstractmethod
    def daemon_pid(self) -> int | None:
        """The supervising process whose idle footprint is measured."""

    def reported_restarts(self) -> int | None:
        """The restart count the supervisor reports (None where it keeps none)."""
        return None

    @abstractmethod
    def _shutdown(self) -> None:
        """Stop the supervisor and its service the supervisor's own way."""

    def stop(self) -> list[str]:
        """Stop everything; then SIGKILL whatever of ours is still alive. Returns what had to be killed."""
        daemon = self.daemon_pid()
        with contextlib.suppress(Exception):
            self._shutdown()
        leftovers = []
        for pid in sorted(self.seen_pids | ({daemon} if daemon else set())):
            if _is_ours(pid, self.port, daemon) and not wait_gone(pid, 5.0):
                leftovers.append(f"{self.name}: pid {pid} survived shutdown; SIGKILLed")
                kill_pid(pid)
                wait_gone(pid, 2.0)
        return leftovers


def _is_ours(pid: int, port: int, daemon: int | None) -> bool:
    """Guard against a recycled pid: a service pid must still run our server on our port."""
    try:
        cmdline = psutil.Process(pid).cmdline()
    except psutil.Error:
        return False
    return pid == daemon or (str(SERVER) in cmdline and str(port) in cmdline)


# --- autonomic ------------------------------------------------------------------------------------------
class Autonomic(Peer):
    name = "autonomic"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.cli = str(VENV_BIN / "autonomic")
        self.workspace = self.root / "workspace"
        self._daemon: int | None = None
        self.note = (
            'restart = "always", health = http /health every 1s, backoff.reset_after = "1s" '
            "(so every spaced kill counts as the first failure after a stable run: restart at once)"
        )

    def start(self) -> None:
        _run([self.cli, "init", str(self.workspace)])
        toml = self.workspace / "autonomic.toml"
        # the supervisor alone, like its peers: no built-in services (queue, worker, monitor, watchdog)
        # and no jobs of its own (the overdue backup, the upgrade check) competing for the 2 CPUs
        text = (
            "[queue]\nenabled = false\n[worker]\nenabled = false\n[monitor]\nenabled = false\n"
            "[watchdog]\nenabled = false\n[backup]\nschedule = false\n[upgrade]\nenabled = false\n"
        )
        text += (
            "\n[services.web]\n"
            f"command = {json.dumps(server_argv(self.port))}\n"
            'restart = "always"\n'
            f'health = {{ http = "http://127.0.0.1:{self.port}/health", interval = "1s" }}\n'
            'backoff = { reset_after = "1s" }\n'
        )
        toml.write_text(text, encoding="utf-8")
        _run([self.cli, "up", "-w", str(self.workspace), "--timeout", "30"], timeout=60)

    def status(self) -> dict[str, Any]:
        out = _run([self.cli, "status", "-w", str(self.workspace), "--json"])
        return dict(json.loads(out))

    def service_pid(self) -> int | None:
        for service in self.status().get("services", []):
            if service.get("name") == "web":
                pid = service.get("pid")
                if pid:
                    self.seen_pids.add(int(pid))
                return int(pid) if pid else None
        return None

    def reported_restarts(self) -> int | None:
        for service in self.status().get("services", []):
            if service.get("name") == "web":
                return int(service.get("restarts") or 0)
        return None

    def daemon_pid(self) -> int | None:
        if self._daemon is None:
            with contextlib.suppress(OSError, ValueError, KeyError):
                control = json.loads((self.workspace / ".autonomic" / "control.json").read_text())
                self._daemon = int(control["pid"])
        return self._daemon

    def _shutdown(self) -> None:
        _run([self.cli, "down", "-w", str(self.workspace)], timeout=60)

    @property
    def event_log(self) -> Path:
        return self.workspace / "outputs" / "master_orchestrator_log.jsonl"


# --- supervisord ----------------------------------------------------------------------------------------
class Supervisord(Peer):
    name = "supervisord"

    def __init__(self, root: Path, startsecs: int = 0) -> None:
        super().__init__(root)
        self.startsecs = startsecs
        self.conf = self.root / "supervisord.conf"
        self.sock = self.root / "supervisor.sock"
        self._popen: subprocess.Popen[bytes] | None = None
        self.note = (
            f"[program:web] autorestart=true, startsecs={startsecs}, stopasgroup=killasgroup=true; "
            "supervisord runs with nodaemon=true"
        )

    def start(self) -> None:
        r = self.root
        self.conf.write_text(
            f"""[unix_http_server]
file={self.sock}

[supervisord]
nodaemon=true
logfile={r / "supervisord.log"}
pidfile={r / "supervisord.pid"}
childlogdir={r}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{self.sock}

[program:web]
command={" ".join(server_argv(self.port))}
autostart=true
autorestart=true
startsecs={self.startsecs}
stopasgroup=true
killasgroup=true
stdout_logfile={r / "web.log"}
redirect_stderr=true
""",
            encoding="utf-8",
        )
        with open(r / "supervisord.out", "ab") as out:
            self._popen = subprocess.Popen(
                [str(VENV_BIN / "supervisord"), "-c", str(self.conf)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )

    def _ctl(self, *args: str) -> str:
        return _run([str(VENV_BIN / "supervisorctl"), "-c", str(self.conf), *args])

    def service_pid(self) -> int | None:
        try:
            pid = int(self._ctl("pid", "web").strip() or 0)
        except (PeerError, ValueError):
            return None
        if pid:
            self.seen_pids.add(pid)
        return pid or None

    def daemon_pid(self) -> int | None:
        return self._popen.pid if self._popen else None

    def _shutdown(self) -> None:
        if self._popen is None:
            return
        with contextlib.suppress(PeerError):
            self._ctl("shutdown")
        try:
            self._popen.wait(10)
        except subprocess.TimeoutExpired:
            self._popen.terminate()
            self._popen.wait(5)


# --- PM2 ------------------------------------------------------------------------------------------------
class PM2(Peer):
    name = "pm2"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.home = self.root / "pm2-home"
        self.env = {**os.environ, "PM2_HOME": str(self.home)}
        self._daemon: int | None = None
        self.note = (
            "ecosystem: fork mode, interpreter = this venv's python, autorestart=true (default), "
            "restart_delay=0 (default); own PM2_HOME in a temp folder"
        )

    def _pm2(self, *args: str) -> str:
        return _run(["node", str(PM2_JS), *args], env=self.env, timeout=60)

    def start(self) -> None:
        app = {
            "name": "web",
            "script": str(SERVER),
            "args": [str(self.port)],
            "interpreter": PYTHON,
            "exec_mode": "fork",
            "autorestart": True,
            "out_file": str(self.root / "web.out.log"),
            "error_file": str(self.root / "web.err.log"),
        }
        eco = self.root / "ecosystem.json"
        eco.write_text(json.dumps({"apps": [app]}, indent=2), encoding="utf-8")
        self._pm2("start", str(eco))

    def service_pid(self) -> int | None:
        try:
            apps = json.loads(self._pm2("jlist"))
        except (PeerError, ValueError):
            return None
        for app in apps:
            if app.get("name") == "web" and app.get("pid"):
                pid = int(app["pid"])
                self.seen_pids.add(pid)
                return pid
        return None

    def reported_restarts(self) -> int | None:
        for app in json.loads(self._pm2("jlist")):
            if app.get("name") == "web":
                return int(app.get("pm2_env", {}).get("restart_time") or 0)
        return None

    def daemon_pid(self) -> int | None:
        if self._daemon is None:
            with contextlib.suppress(OSError, ValueError):
                self._daemon = int((self.home / "pm2.pid").read_text().strip())
        return self._daemon

    def _shutdown(self) -> None:
        self.daemon_pid()
        self._pm2("kill")


# --- the bare restart loop ------------------------------------------------------------------------------
class BareLoop(Peer):
    name = "bare loop"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self._popen: subprocess.Popen[bytes] | None = None
        self.note = (
            "bash -c 'while true; do python mttr_server.py PORT; done' (the floor: no supervisor logic)"
        )

    def start(self) -> None:
        script = f"while true; do {' '.join(server_argv(self.port))}; done"
        with open(self.root / "loop.log", "ab") as out:
            self._popen = subprocess.Popen(
                ["bash", "-c", script],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )

    def service_pid(self) -> int | None:
        if self._popen is None:
            return None
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            with contextlib.suppress(psutil.Error):
                for child in psutil.Process(self._popen.pid).children():
                    if child.status() != psutil.STATUS_ZOMBIE:
                        self.seen_pids.add(child.pid)
                        return child.pid
            time.sleep(0.01)
        return None

    def daemon_pid(self) -> int | None:
        return self._popen.pid if self._popen else None

    def _shutdown(self) -> None:
        if self._popen is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, signal.SIGKILL)  # the loop first, so it cannot start another
        self._popen.wait(5)
