"""The desktop: screen capture (mss, against the X display on Linux) and input (pyautogui).

Both come from the `[desktop]` extra and are imported only when a task needs them, so a worker without
a display or without the extra still runs every other task type; a desktop task then fails with a
message saying what is missing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autonomic.worker.outcome import TaskFailed

if TYPE_CHECKING:
    from PIL.Image import Image

EXTRA_HINT = "pip install 'autonomic[desktop]'"


def require_display() -> None:
    """Fail clearly on a Linux host with no X display instead of letting Xlib raise something cryptic."""
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
        raise TaskFailed("no X display: DISPLAY is not set (run the worker in a desktop session or Xvfb)")


def capture(region: Sequence[int] | None = None) -> Image:
    """The screen (or `region` = [x, y, width, height] of it) as an RGB Pillow image."""
    require_display()
    try:
        import mss
        from PIL import Image as PILImage
    except ImportError as exc:
        raise TaskFailed(f"screen capture needs the desktop extra (no {exc.name}): {EXTRA_HINT}") from None
    factory: Any = getattr(mss, "MSS", None) or mss.mss
    try:
        with factory() as grabber:
            monitor = _monitor(grabber.monitors[0], region)
            shot = grabber.grab(monitor)
    except Exception as exc:  # mss raises its own ScreenShotError, or Xlib/ctypes errors
        raise TaskFailed(f"screen capture failed: {exc}") from None
    return PILImage.frombytes("RGB", shot.size, shot.bgra, "raw", "BGRX")


def save(image: Image, path: Path) -> None:
    image.save(path)


def load(path: Path) -> Image:
    """An image file as RGB, or `TaskFailed` when it is not one."""
    try:
        from PIL import Image as PILImage
    except ImportError:
        raise TaskFailed(f"reading images needs the desktop extra (pillow): {EXTRA_HINT}") from None
    try:
        with PILImage.open(path) as image:
            return image.convert("RGB")
    except (OSError, ValueError) as exc:
        raise TaskFailed(f"{path.name}: not a readable image ({exc})") from None


def pyautogui() -> Any:
    """The pyautogui module, imported on first use (it connects to the display at import time)."""
    require_display()
    try:
        import pyautogui as module
    except ImportError as exc:
        raise TaskFailed(f"desktop input needs the desktop extra (no {exc.name}): {EXTRA_HINT}") from None
    except Exception as exc:  # Xlib raises on a display it cannot open
        display = os.environ.get("DISPLAY")
        raise TaskFailed(f"desktop input cannot reach the display {display!r}: {exc}") from None
    return module


def _monitor(full: dict[str, int], region: Sequence[int] | None) -> dict[str, int]:
    if region is None:
        return full
    if len(region) != 4 or not all(isinstance(v, int) and not isinstance(v, bool) for v in region):
        raise TaskFailed("region must be [x, y, width, height] in whole pixels")
    x, y, width, height = region
    if width <= 0 or height <= 0:
        raise TaskFailed("region width and height must be positive")
    return {"left": full["left"] + x, "top": full["top"] + y, "width": width, "height": height}
