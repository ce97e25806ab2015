"""One OS process of a service: spawned in its own session writing straight to its log file (so it
outlives an orchestrator crash), or adopted from a record; stopped as a whole process group."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from pathlib import Path

import psutil

from autonomic.clock import iso_now
from autonomic.platform import Platform
from autonomic.platform.base import create_time, is_alive
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

    @property
    def adopted(self) -> bool:
        return self.popen is None

    @classmethod
    def spawn(
        cls, argv: list[str], cwd: str, env: dict[str, str], log_path: Path, platform: Platform
    ) -> ManagedProcess:
        """Start `argv` detached, appending stdout and stderr to `log_path`."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            log.write(f"--- autonomic: starting {' '.join(argv)} at {iso_now()} ---\n".encode())
            log.flush()
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
                log.write(f"--- autonomic: could not start: {message} ---\n".encode())
                raise SpawnError(f"cannot start {argv[0]!r}: {message}") from exc
        created = create_time(popen.pid) or time.time()
        return cls(popen.pid, created, time.time(), list(argv), platform, popen)

    @classmethod
    def adopt(cls, record: ProcessRecord, platform: Platform) -> ManagedProcess:
        return cls(record.pid, record.create_time, record.started_at, record.argv, platform)

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
        self.platform.send_group(self.pid, signal_name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wait_quietly(), timeout)
        self.platform.kill_group(self.pid)
        for proc in descendants:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        await self._wait_quietly()
        await asyncio.to_thread(psutil.wait_procs, descendants, 2.0)

    async def _wait_quietly(self) -> None:
        if self.is_alive():
            await self.wait()
        elif self.popen is not None and self.exit_code is None:
            self.exit_code = self.popen.poll()

    def _descendants(self) -> list[psutil.Process]:
        try:
            return list(psutil.Process(self.pid).children(recursive=True))
        except psutil.Error:
            return []
