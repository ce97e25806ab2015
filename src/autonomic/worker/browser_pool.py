"""One warm Chromium for all `browser` tasks, launched on first use and again if it dies.

Playwright (the `[browser]` extra) drives the system's Chromium: browser downloads are not assumed to
be possible, so the executable comes from `[worker].browser_executable` or is found on PATH.

Nothing is left behind: Chromium runs with a private scratch folder as its HOME and temporary
folder (its `org.chromium.Chromium.*` folders, its `.config/chromium` and the dconf cache land
there, never in /tmp or the user's home), and the pool removes that folder when it closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from autonomic.worker.outcome import TaskFailed

log = logging.getLogger("autonomic.worker")
LAUNCH_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
)
TEMP_VARIABLES = ("TMPDIR", "TMP", "TEMP")
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
MAC_APPS = (
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
)


def find_chromium(configured: str | None = None) -> str | None:
    """The Chromium to drive: the configured path, else the first one found on PATH (or macOS apps)."""
    if configured:
        return configured
    for name in CANDIDATES:
        if found := shutil.which(name):
            return found
    mac_apps = MAC_APPS if sys.platform == "darwin" else ()
    return next((app for app in mac_apps if Path(app).exists()), None)


class BrowserPool:
    """Holds the Playwright driver and one browser; `browser()` hands out a live one."""

    def __init__(self, executable: str | None, headless: bool = True) -> None:
        self._executable = executable
        self._headless = headless
        self._lock = asyncio.Lock()
        self._playwright: Any = None
        self._browser: Any = None
        self._scratch: Path | None = None
        self.launches = 0

    @property
    def scratch(self) -> Path | None:
        """The private folder the browser uses as HOME and temporary folder (None before a launch)."""
        return self._scratch

    async def browser(self) -> Any:
        """A connected browser, launching one when there is none or the last one died."""
        async with self._lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            if self._browser is not None:
                log.warning("browser is gone; launching a new one")
            self._browser = await self._launch()
            self.launches += 1
            return self._browser

    async def new_context(self) -> Any:
        """A fresh, isolated browser context; a browser that died unnoticed is replaced once."""
        chromium = await self.browser()
        try:
            return await chromium.new_context()
        except Exception as exc:
            if chromium.is_connected() and "closed" not in str(exc).lower():
                raise
            log.warning("browser stopped answering (%s); launching a new one", str(exc).splitlines()[0])
            async with self._lock:
                if self._browser is chromium:
                    self._browser = None
            return await (await self.browser()).new_context()

    async def close(self) -> None:
        """Close the browser and stop the driver (at worker shutdown)."""
        async with self._lock:
            if self._browser is not None:
                with contextlib.suppress(Exception):
                    await self._browser.close()
                self._browser = None
            if self._playwright is not None:
                with contextlib.suppress(Exception):
                    await self._playwright.stop()
                self._playwright = None
            if self._scratch is not None:
                shutil.rmtree(self._scratch, ignore_errors=True)
                self._scratch = None

    async def _launch(self) -> Any:
        if self._playwright is None:
            try:
                from playwright.async_api import async_playwright
            except ImportError:
                hint = "pip install 'autonomic[browser]'"
                raise TaskFailed(f"browser tasks need the browser extra: {hint}") from None
            with self._driver_temp():  # the driver keeps its profiles in its temporary folder
                self._playwright = await async_playwright().start()
        executable = find_chromium(self._executable)
        try:
            return await self._playwright.chromium.launch(
                executable_path=executable,
                headless=self._headless,
                args=list(LAUNCH_ARGS),
                env=self._environment(),
            )
        except Exception as exc:
            where = executable or "Playwright's own Chromium"
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise TaskFailed(
                f"could not start Chromium ({where}): {first_line}; install chromium or set "
                "[worker].browser_executable"
            ) from None

    @contextlib.contextmanager
    def _driver_temp(self) -> Iterator[None]:
        """Our own environment's temporary folder is the scratch folder while the driver starts (the
        driver copies the environment when it is spawned; Python's `tempfile` has its folder already)."""
        private = {key: value for key, value in self._environment().items() if key in TEMP_VARIABLES}
        saved = {key: os.environ.get(key) for key in private}
        os.environ.update(private)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def _environment(self) -> dict[str, str]:
        """The browser's environment: ours, with HOME and the temporary folder in the scratch folder.

        The scratch folder itself is the temporary folder, right in ours with a short name: Chromium
        puts a socket in it, and a socket's path must stay under ~100 characters.
        """
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="autonomic-"))
        home = self._scratch / "home"
        home.mkdir(exist_ok=True)
        temp = str(self._scratch)
        private = {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "TMPDIR": temp,
            "TMP": temp,
            "TEMP": temp,
        }
        return {**os.environ, **private}
