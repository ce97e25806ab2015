"""The original's RPA actions: click, type, hotkey, screenshot, ocr, find_element, wait, open_browser.

Each takes the task context and the action's `params` and returns the result data of ORIGIN_API.md.
Input (click, type, hotkey) needs "desktop-input" in `[worker].allow` and holds the desktop lock, so
two tasks never interleave their clicks and keystrokes.
"""

from __future__ import annotations

import asyncio
import time
import webbrowser
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlparse

from autonomic.values import Capability
from autonomic.worker import screen, vision
from autonomic.worker.context import TaskContext
from autonomic.worker.files import stamped
from autonomic.worker.outcome import Data, TaskFailed

Params = dict[str, Any]
Action = Callable[[TaskContext, Params], Awaitable[Data]]
INPUT = Capability.DESKTOP_INPUT
BUTTONS = ("left", "right", "middle")


async def click(ctx: TaskContext, params: Params) -> Data:
    ctx.require(INPUT, "desktop input (click)")
    button = str(params.get("button", "left"))
    if button not in BUTTONS:
        raise TaskFailed(f"button must be one of {', '.join(BUTTONS)}")
    clicks = _int(params, "clicks", 1)

    def perform() -> Data:
        with ctx.resources.desktop_lock:
            x, y = _target(ctx, params)
            screen.pyautogui().click(
                x,
                y,
                clicks=clicks,
                interval=_number(params, "interval", 0.0),
                button=button,
                duration=_number(params, "duration", 0.1),
            )
        return {"x": x, "y": y, "button": button, "clicks": clicks}

    return await ctx.in_thread(perform)


async def type_text(ctx: TaskContext, params: Params) -> Data:
    ctx.require(INPUT, "desktop input (type)")
    text = params.get("text")
    if not isinstance(text, str):
        raise TaskFailed("type needs 'text' (a string)")
    interval = _number(params, "interval", 0.0)

    def perform() -> Data:
        with ctx.resources.desktop_lock:
            screen.pyautogui().write(text, interval=interval)
        return {"typed": len(text)}

    return await ctx.in_thread(perform)


async def hotkey(ctx: TaskContext, params: Params) -> Data:
    ctx.require(INPUT, "desktop input (hotkey)")
    keys = params.get("keys")
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and k for k in keys):
        raise TaskFailed("hotkey needs 'keys' (a list of key names, e.g. ['ctrl', 's'])")

    def perform() -> Data:
        with ctx.resources.desktop_lock:
            gui = screen.pyautogui()
            unknown = [k for k in keys if k.lower() not in gui.KEYBOARD_KEYS]
            if unknown:
                raise TaskFailed(f"unknown key name(s): {', '.join(unknown)}")
            gui.hotkey(*keys)
        return {"keys": keys}

    return await ctx.in_thread(perform)


async def screenshot(ctx: TaskContext, params: Params) -> Data:
    path = ctx.files.writable(_str(params, "save_path"), stamped("screenshot"))
    region = params.get("region")

    def perform() -> Data:
        image = screen.capture(region)
        screen.save(image, path)
        return {"path": ctx.files.relative(path), "width": image.width, "height": image.height}

    return await ctx.in_thread(perform)


async def ocr(ctx: TaskContext, params: Params) -> Data:
    engine = str(params.get("engine", "tesseract"))
    if engine not in vision.ENGINES:
        raise TaskFailed(f"OCR engine {engine!r} is not available; use one of: {', '.join(vision.ENGINES)}")
    source = _str(params, "source")
    lang = str(params.get("lang", "eng"))

    def perform() -> Data:
        image = _image(ctx, source, params.get("region"))
        text = vision.ocr(image, lang)
        return {"engine": engine, "chars": len(text), "preview": text[:1000]}

    return await ctx.in_thread(perform)


async def find_element(ctx: TaskContext, params: Params) -> Data:
    def perform() -> Data:
        match = _locate(ctx, params)
        return {
            "found": match is not None,
            "location": [match.x, match.y] if match else None,
            "score": match.score if match else None,
        }

    return await ctx.in_thread(perform)


async def wait(ctx: TaskContext, params: Params) -> Data:
    seconds = _number(params, "seconds", 1.0)
    if seconds < 0:
        raise TaskFailed("seconds cannot be negative")
    # the event loop may wake a timer up to its clock resolution early: a `wait` never waits less than asked
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        await asyncio.sleep(left)
    return {"slept": seconds}


async def open_browser(ctx: TaskContext, params: Params) -> Data:
    url = params.get("url")
    if not isinstance(url, str) or not url:
        raise TaskFailed("open_browser needs 'url'")
    if urlparse(url).scheme.lower() not in ("http", "https"):
        ctx.require(INPUT, "open_browser on a URL that is not http(s)")
    opened = await ctx.in_thread(lambda: webbrowser.open(url))
    if not opened:
        raise TaskFailed("no web browser could be started (set $BROWSER or install one)")
    return {"opened": url}


ACTIONS: dict[str, Action] = {
    "click": click,
    "type": type_text,
    "hotkey": hotkey,
    "screenshot": screenshot,
    "ocr": ocr,
    "find_element": find_element,
    "wait": wait,
    "open_browser": open_browser,
}
INPUT_ACTIONS = ("click", "type", "hotkey")


def _target(ctx: TaskContext, params: Params) -> tuple[int, int]:
    if "x" in params or "y" in params:
        return _int(params, "x", 0), _int(params, "y", 0)
    match = _locate(ctx, params)
    if match is None:
        what = params.get("template") or params.get("text")
        raise TaskFailed(f"element not found on screen: {what}")
    return match.x, match.y


def _locate(ctx: TaskContext, params: Params) -> vision.Match | None:
    region = params.get("region")
    offset = (region[0], region[1]) if isinstance(region, list) and len(region) == 4 else (0, 0)
    if template := _str(params, "template"):
        pattern = screen.load(ctx.files.readable(template))
        match = vision.find_template(screen.capture(region), pattern, _number(params, "threshold", 0.8))
    elif text := _str(params, "text"):
        match = vision.find_text(screen.capture(region), text, str(params.get("lang", "eng")))
    else:
        raise TaskFailed("give 'x' and 'y', a 'template' image, or 'text' to find")
    return vision.Match(match.x + offset[0], match.y + offset[1], match.score) if match else None


def _image(ctx: TaskContext, source: str | None, region: Any) -> Any:
    if source and source not in ("screen", "live"):
        return screen.load(ctx.files.readable(source))
    return screen.capture(region)


def _str(params: Params, key: str) -> str | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise TaskFailed(f"{key} must be a string")
    return value


def _number(params: Params, key: str, default: float) -> float:
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TaskFailed(f"{key} must be a number")
    return float(value)


def _int(params: Params, key: str, default: int) -> int:
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TaskFailed(f"{key} must be a whole number")
    return int(value)
