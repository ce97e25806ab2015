"""Windows: new process groups without a console, tree kill through psutil, exit waits in a thread."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from typing import Any

import psutil

_CTRL_BREAK = "SIGBREAK"


class WindowsPlatform:
    name = "win32"

    def detached_popen_kwargs(self) -> dict[str, Any]:
        flags = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0) | getattr(
            subprocess, "CREATE_NO_WINDOW", 0
        )
        return {"creationflags": flags, "close_fds": True}

    def send_group(self, pid: int, signal_name: str) -> None:
        # Windows has no SIGTERM for a process group: a console-less child gets a polite terminate of the
        # whole tree (children first), which is what SIGTERM means to our services there.
        if signal_name == "SIGKILL":
            self.kill_group(pid)
            return
        for proc in _tree(pid):
            with contextlib.suppress(psutil.Error):
                proc.terminate()

    def kill_group(self, pid: int) -> None:
        for proc in _tree(pid):
            with contextlib.suppress(psutil.Error):
                proc.kill()

    def become_subreaper(self) -> bool:
        return False

    async def wait_exit(self, pid: int) -> None:
        # psutil waits on the process handle (WaitForSingleObject): a notification, not a poll.
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            await asyncio.to_thread(proc.wait)


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
    except psutil.Error:
        return []
    try:
        children = root.children(recursive=True)
    except psutil.Error:
        children = []
    return [*reversed(children), root]
