"""Finding a workspace's processes by what cannot be deleted: the process table.

Every service process carries `AUTONOMIC_SUPERVISED=<service>:<spec hash>:<workspace root>` in its
environment, and the orchestrator `AUTONOMIC_ORCHESTRATOR=<workspace root>` (its command line names
the workspace too). So when the files under `.autonomic/` are deleted or garbled, the orchestrator and
the CLI still find what runs: a live orchestrator is talked to instead of a second one being started,
a live service is adopted (or stopped) instead of being duplicated, and `down` leaves nothing behind."""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil

SERVICE_MARK = "AUTONOMIC_SUPERVISED"
ORCHESTRATOR_MARK = "AUTONOMIC_ORCHESTRATOR"
_MODULE = "autonomic.supervisor"


def service_env(root: Path, service: str, spec_hash: str) -> dict[str, str]:
    return {SERVICE_MARK: f"{service}:{spec_hash}:{root}"}


def orchestrator_env(root: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for an orchestrator of `root`: marked as such, and without the marks of a
    service it may have been started from (it must never be taken for that service)."""
    env = dict(os.environ if base is None else base)
    env.pop(SERVICE_MARK, None)
    env[ORCHESTRATOR_MARK] = str(root)
    return env


@dataclass(frozen=True)
class Found:
    """A live process of the workspace, as read from the process table."""

    pid: int
    create_time: float
    service: str  # "" for an orchestrator
    spec_hash: str
    argv: list[str]

    def describe(self) -> str:
        return f"pid {self.pid} ({shorten(self.argv)})"


def find_services(root: Path) -> list[Found]:
    """Every live main process of a service of `root` (a session leader carrying the mark; its children
    inherit the mark but not the session), oldest first."""
    wanted = f":{root}"
    found = []
    for proc, env in _marked(SERVICE_MARK):
        value = env.get(SERVICE_MARK, "")
        if not value.endswith(wanted) or not _leads(proc):
            continue
        service, _, rest = value.partition(":")
        spec_hash = rest.partition(":")[0]
        with contextlib.suppress(psutil.Error):
            found.append(Found(proc.pid, proc.create_time(), service, spec_hash, proc.cmdline()))
    return sorted(found, key=lambda f: (f.create_time, f.pid))


def find_orchestrators(root: Path) -> list[Found]:
    """Every live orchestrator of `root` but this process, oldest first: by its mark or its command
    line (`python -m autonomic.supervisor --workspace ROOT`)."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "status"]):
        with contextlib.suppress(psutil.Error):
            if proc.pid == os.getpid() or proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            cmdline = proc.info["cmdline"] or []
            if _MODULE in cmdline and _names_workspace(proc, cmdline, root):
                found.append(Found(proc.pid, proc.create_time(), "", "", cmdline))
    return sorted(found, key=lambda f: (f.create_time, f.pid))


def ask_to_republish(root: Path) -> list[int]:
    """Signal every live orchestrator of `root` to write its control file again at once (SIGUSR1; where
    there is no such signal it republishes on its own within seconds). Returns their pids."""
    import signal

    found = [o.pid for o in find_orchestrators(root)]
    if hasattr(signal, "SIGUSR1"):
        for pid in found:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGUSR1)
    return found


def shorten(argv: list[str], limit: int = 60) -> str:
    shown = " ".join([os.path.basename(argv[0]), *argv[1:]]) if argv else "?"
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def describe_pid(pid: int) -> str:
    try:
        return f"pid {pid} ({shorten(psutil.Process(pid).cmdline())})"
    except psutil.Error:
        return f"pid {pid}"


def _names_workspace(proc: psutil.Process, cmdline: list[str], root: Path) -> bool:
    try:
        env = proc.environ()
    except psutil.Error:
        env = {}
    if ORCHESTRATOR_MARK in env:
        return env[ORCHESTRATOR_MARK] == str(root)
    if "--workspace" not in cmdline[:-1]:
        return False
    given = Path(cmdline[cmdline.index("--workspace") + 1]).expanduser()
    if not given.is_absolute():
        with contextlib.suppress(psutil.Error, OSError):
            given = Path(proc.cwd()) / given
    with contextlib.suppress(OSError):
        return given.resolve() == root
    return False


def _marked(mark: str) -> list[tuple[psutil.Process, dict[str, str]]]:
    """Live processes of this user whose environment holds `mark`."""
    me = _uid()
    result = []
    for proc in psutil.process_iter(["pid", "status", "uids"]):
        with contextlib.suppress(psutil.Error):
            if proc.pid == os.getpid() or proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            uids = proc.info.get("uids")
            if me is not None and uids is not None and uids.real != me:
                continue
            if not _may_hold(proc.pid, mark):
                continue
            env = proc.environ()
            if mark in env:
                result.append((proc, env))
    return result


def _may_hold(pid: int, mark: str) -> bool:
    """A cheap pre-check on Linux (one read of /proc/PID/environ); elsewhere ask psutil."""
    if sys.platform.startswith("linux"):
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                return mark.encode() + b"=" in handle.read()
        except OSError:
            return False
    else:
        return True


def _leads(proc: psutil.Process) -> bool:
    """The process leads its own session (how services are started), so it is a service's main process
    and not one of its children, which inherit the mark."""
    if sys.platform == "win32":
        try:
            parent = proc.parent()
            return parent is None or SERVICE_MARK not in parent.environ()
        except psutil.Error:
            return True
    else:
        try:
            return os.getsid(proc.pid) == proc.pid
        except OSError:
            return False


def _uid() -> int | None:
    if sys.platform == "win32":
        return None
    else:
        return os.getuid()
