"""Backup failures, each one line a user can act on."""

from __future__ import annotations

import errno

from autonomic.errors import BackupError, RestoreRefused

_REASONS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EFBIG: "file too large (a file-size limit was hit)",
    errno.ENOENT: "no such file or directory",
    errno.ENOTDIR: "a path component is not a folder",
    errno.EIO: "input/output error",
}


def os_reason(exc: OSError) -> str:
    """A short human reason for an OS error ("no space left on the device")."""
    if exc.errno in _REASONS:
        return _REASONS[exc.errno]
    return exc.strerror or str(exc)


__all__ = ["BackupError", "RestoreRefused", "os_reason"]
