"""Linux and macOS: sessions and process groups, SIGTERM/SIGKILL, pidfd or kqueue exit notification."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import select
import signal
import sys
from collections.abc import Callable
from typing import Any

from autonomic.platform.base import is_alive, poll_exit

assert sys.platform != "win32"

_PR_SET_CHILD_SUBREAPER = 36


class PosixPlatform:
    name = sys.platform

    def detached_popen_kwargs(self) -> dict[str, Any]:
        return {"start_new_session": True, "close_fds": True}

    def send_group(self, pid: int, signal_name: str) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, getattr(signal, signal_name))

    def kill_group(self, pid: int) -> None:
        self.send_group(pid, "SIGKILL")

    def become_subreaper(self) -> bool:
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
            except (OSError, AttributeError):
                return False
        else:
            return False

    async def wait_exit(self, pid: int) -> None:
        if hasattr(os, "pidfd_open"):
            await _wait_pidfd(pid)
        elif sys.platform == "darwin" or sys.platform.startswith("freebsd"):
            await _wait_kqueue(pid)
        else:
            await poll_exit(pid)


def _pidfd_open(pid: int) -> int:
    opener: Callable[[int], int] = getattr(os, "pidfd_open")  # noqa: B009 - Linux only; typed here
    return opener(pid)


async def _wait_pidfd(pid: int) -> None:
    """Linux: a pidfd becomes readable when the process exits, whoever its parent is."""
    try:
        fd = _pidfd_open(pid)
    except ProcessLookupError:
        return
    except OSError:
        await poll_exit(pid)
        return
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    try:
        if not is_alive(pid):
            return
        loop.add_reader(fd, lambda: _resolve(done))
        await done
    finally:
        loop.remove_reader(fd)
        os.close(fd)


if sys.platform == "darwin" or sys.platform.startswith("freebsd"):

    async def _wait_kqueue(pid: int) -> None:
        """macOS/BSD: kqueue's EVFILT_PROC/NOTE_EXIT fires when the process exits."""
        kq = select.kqueue()
        try:
            event = select.kevent(
                pid,
                filter=select.KQ_FILTER_PROC,
                flags=select.KQ_EV_ADD | select.KQ_EV_ONESHOT,
                fflags=select.KQ_NOTE_EXIT,
            )
            try:
                kq.control([event], 0, 0)
            except ProcessLookupError:
                return
            loop = asyncio.get_running_loop()
            done = loop.create_future()
            loop.add_reader(kq.fileno(), lambda: _resolve(done))
            try:
                if is_alive(pid):
                    await done
            finally:
                loop.remove_reader(kq.fileno())
        finally:
            kq.close()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
