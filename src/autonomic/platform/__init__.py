"""Everything that differs between Linux, macOS and Windows, behind one interface (`Platform`)."""

from __future__ import annotations

import sys
from functools import cache

from autonomic.platform.base import Platform


@cache
def current() -> Platform:
    """The implementation for the OS we run on."""
    if sys.platform == "win32":
        from autonomic.platform.windows import WindowsPlatform

        return WindowsPlatform()
    else:
        from autonomic.platform.posix import PosixPlatform

        return PosixPlatform()


__all__ = ["Platform", "current"]
