"""One OS process of a service: spawned in its own session writing straight to its log file (so it
outlives an orchestrator crash), or adopted from a record or a marked process; stopped as a whole
process group. A log that cannot be opened or written never stops a start: the output is discarded
and `log_problem` says why."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
from pathlib import Path
from typing import Protocol

import psutil

from autonomic.clock import iso_now
from autonomic.platform import Platform
from autonomic.platform.base import create_time, is_alive
from autonomic.supervisor import logfile
from autonomic.supervisor.markers import Found
from autonomic.supervisor.record import ProcessRecord


class SpawnError(Exception):
    """The command could not be started at all (missing executable, bad cwd, no permission)."""


class ManagedProcess:
    def __init__(
        self,
        pid: int,
        created: float,
        started_at: float,
        argv: list[str],
        platform: Platform,
        popen: subprocess.Popen[bytes] | None = None,
    ) -> None:
        self.pid = pid
        self.create_time = created
        self.started_at = started_at
        self.argv = argv
        self.platform = platform
        self.popen = popen
        self.exit_code: int | None = None
        self.log_problem: str | None = None

    @property
    def adopted(self) -> bool:
        return self.popen is None

    @classmethod
    def spawn(
        cls, argv: list[str], cwd: str, env: dict[str, str], log_path: Path, platform: Platform
    ) -> ManagedProcess:
        """Start `argv` detached, appending stdout and stderr to `log_path` (or, when the log cannot be
        opened, to nowhere: the process still starts, and `log_problem` says why)."""
        log, problem = _open_log(log_path)
        _note(log, f"starting {' '.join(argv)} at {iso_now()}")
        try:
            popen = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                **platform.detached_popen_kwargs(),
            )
        except (OSError, ValueError) as exc:
            message = getattr(exc, "strerror", None) or str(exc)
            _note(log, f"could not start: {message}")
            raise SpawnError(f"cannot start {argv[0]!r}: {message}") from exc
        finally:
            if log != subprocess.DEVNULL:
                os.close(log)
        created = create_time(popen.pid) or time.time()
        process = cls(popen.pid, created, time.time(), list(argv), platform, popen)
        process.log_problem = problem
        return process

    @classmethod
    def adopt(cls, record: ProcessRecord, platform: Platform) -> ManagedProcess:
        return cls(record.pid, record.create_time, record.started_at, record.argv, platform)

    @classmethod
    def adopt_found(cls, found: Found, platform: Platform) -> ManagedProcess:
        """A live process found by its mark (its record was missing or damaged)."""
        return cls(found.pid, found.create_time, found.create_time, found.argv, platform)

    def record(self, service: str, spec_hash: str, restarts: int) -> ProcessRecord:
        return ProcessRecord(
            service, self.pid, self.create_time, self.argv, self.started_at, spec_hash, restarts
        )

    def is_alive(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is None
        return is_alive(self.pid, self.create_time)

    @property
    def uptime(self) -> float:
        return max(0.0, time.time() - self.started_at)

    async def wait(self) -> int | None:
        """Wait for the exit (notified by the OS, not polled) and return its code; None when unknown
        (an adopted process is not our child, so its status cannot be collected)."""
        await self.platform.wait_exit(self.pid)
        if self.popen is not None:
            # the OS said it exited, so collecting the status does not block (no thread hop on the
            # restart path); where the notice can come early, fall back to a blocking wait in a thread
            code = self.popen.poll()
            self.exit_code = code if code is not None else await asyncio.to_thread(self.popen.wait)
        return self.exit_code

    async def stop(self, signal_name: str, timeout: float) -> None:
        """`signal_name` to the whole group, SIGKILL after `timeout`; descendants that left the group
        (a daemon that called setsid) are found from a snapshot taken first, and killed too."""
        descendants = self._descendants()
        if self.is_frozen():
            timeout = 0.0  # a stopped process cannot act on a polite signal: no point waiting for it
        else:
            self.platform.send_group(self.pid, signal_name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wait_quietly(), timeout)
        self.platform.kill_group(self.pid)
        for proc in descendants:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        await self._wait_quietly()
        await asyncio.to_thread(psutil.wait_procs, descendants, 2.0)

    def is_frozen(self) -> bool:
        """Stopped (SIGSTOP, `T` state) or traced: it will not run again by itself."""
        try:
            return psutil.Process(self.pid).status() in (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP)
        except psutil.Error:
            return False

    async def _wait_quietly(self) -> None:
        if self.is_alive():
            await self.wait()
        elif self.popen is not None and self.exit_code is None:
            self.exit_code = self.popen.poll()

    def _descendants(self) -> list[psutil.Process]:
        """The process's descendants, except an orchestrator one of them started (a watchdog bringing
        the orchestrator back) and what runs under it: those must outlive the service."""
        found: list[psutil.Process] = []
        try:
            todo = [psutil.Process(self.pid)]
        except psutil.Error:
            return found
        while todo:
            try:
                children = todo.pop().children()
            except psutil.Error:
                continue
            kept = [child for child in children if not _is_orchestrator(child)]  # and not its services
            found.extend(kept)
            todo.extend(kept)
        return found


class Spawner(Protocol):
    """How a service's process is started (a seam: tests can hand in their own)."""

    def __call__(
        self, argv: list[str], cwd: str, env: dict[str, str], log_path: Path, platform: Platform
    ) -> ManagedProcess: ...


def _is_orchestrator(proc: psutil.Process) -> bool:
    try:
        return "autonomic.supervisor" in proc.cmdline()
    except psutil.Error:
        return False


def _open_log(path: Path) -> tuple[int, str | None]:
    try:
        return logfile.open_append(path), None
    except OSError as exc:
        return subprocess.DEVNULL, f"log {path}: {exc.strerror or exc}; output discarded"


def _note(log: int, text: str) -> None:
    if log == subprocess.DEVNULL:
        return
    with contextlib.suppress(OSError):  # a full disk: the service starts all the same
        os.write(log, f"--- autonomic: {text} ---\n".encode())
