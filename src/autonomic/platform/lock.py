"""A non-blocking, process-lifetime exclusive lock on a file: flock on POSIX, msvcrt on Windows.

The OS drops it when the holder dies however it dies, so a stale lock can never block a restart.
On POSIX a folder can be locked too: a lock on the workspace folder itself cannot be defeated by
deleting or replacing files inside it (a deleted lock file would let a second holder lock a new one).
Windows cannot lock a folder, but neither can a file held open there be deleted.
(The `filelock` package does the same but costs the lean orchestrator ~6 MB of RSS through its
imports; this is the 30 lines it needs.)"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path


class ProcessLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock if nobody holds it; False (at once) if someone does. OSError when the path
        cannot be opened at all (a folder where a file should be, no permission)."""
        folder = self.path.is_dir()
        if folder and sys.platform == "win32":
            return True  # see the module's docstring
        fd = os.open(self.path, os.O_RDONLY) if folder else os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock(fd)
        except OSError:
            os.close(fd)
            return False
        if not folder:
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return True

    def held_elsewhere(self) -> bool:
        """True if another process holds the lock right now (probing takes and drops it at once)."""
        if self._fd is not None:
            return False
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return False
        try:
            _lock(fd)
        except OSError:
            return True
        finally:
            os.close(fd)
        return False

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            _unlock(self._fd)
        os.close(self._fd)
        self._fd = None


if sys.platform == "win32":
    import msvcrt

    def _lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
