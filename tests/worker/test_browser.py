"""`browser` tasks: Playwright driving the system's Chromium, headless, one warm browser (issue 4).

Every test runs the browser with a temporary HOME and temporary folder, and checks that nothing is
left in them afterwards (issue 9): no `org.chromium.Chromium.*`, no profile, no `.config/chromium`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from autonomic.worker import execution
from autonomic.worker.browser_pool import find_chromium
from autonomic.worker.outcome import Outcome
from autonomic.worker.registry import Registry
from tests.helpers import wait_until
from tests.worker.conftest import Stack, wait_exit
from tests.worker.support import context

pytestmark = pytest.mark.browser

if find_chromium() is None:
    pytest.skip("no Chromium on PATH (apt-get install chromium)", allow_module_level=True)
try:
    import playwright  # noqa: F401
except ImportError:
    pytest.skip("playwright is not installed (pip install 'autonomic[browser]')", allow_module_level=True)


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    """HOME and the temporary folder of this process (and of the workers it starts) are the test's.

    The temporary folder gets a short path: Chromium puts a socket in it (at most ~100 characters).
    """
    home = tmp_path / "home"
    home.mkdir()
    temp = Path(tempfile.mkdtemp(prefix="at-", dir="/tmp" if os.path.isdir("/tmp") else None))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    try:
        yield home, temp
        assert _left(home) == [] and _left(temp) == [], "the browser left files behind"
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _left(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.iterdir())


SIGN_UP = [
    {"action": "fill", "selector": "#name", "value": "Ada"},
    {"action": "click", "selector": "#go"},
    {"action": "wait_for", "selector": "#result"},
    {"action": "text", "selector": "#result"},
]


def test_issue4_browser_task_fills_and_submits_a_local_form(
    stack: Stack, form_site: str, private_home: tuple[Path, Path]
) -> None:
    root = stack.workspace(worker={"allow": ["browser"]})
    server = stack.server(root)
    home, temp = private_home
    worker = stack.worker(root, env={"HOME": str(home), "TMPDIR": str(temp)})
    result = server.run("browser", {"steps": [{"action": "goto", "url": form_site}, *SIGN_UP]}, timeout=60)
    assert result["success"], result
    assert result["data"]["text"] == "Thanks, Ada!" and result["data"]["title"] == "Done"
    assert [s["action"] for s in result["data"]["steps"]] == ["goto", "fill", "click", "wait_for", "text"]
    assert result["data"]["steps"][0]["status"] == 200 and "execution_time" in result["data"]
    assert [p.name[:10] for p in temp.iterdir()] == ["autonomic-"]  # in use: the browser's scratch
    os.kill(worker.pid, signal.SIGTERM)  # a clean stop takes it all away (checked by private_home)
    assert wait_exit(worker.process, timeout=30) == 0


def test_a_browser_type_is_not_claimed_unless_allowed(stack: Stack, form_site: str) -> None:
    root = stack.workspace()
    server = stack.server(root)
    stack.worker(root)
    task_id = server.create("browser", {"steps": [{"action": "goto", "url": form_site}]})
    assert server.run("ping")["success"]
    assert server.task(task_id)["status"] == "pending"


def test_one_warm_browser_serves_every_task_and_is_replaced_when_it_dies(
    tmp_path: Path, form_site: str
) -> None:
    async def scenario() -> None:
        steps = {
            "steps": [
                {"action": "goto", "url": form_site},
                *SIGN_UP,
                {"action": "screenshot", "path": "page.png"},
                {"action": "pdf"},
                {"action": "evaluate", "expression": "document.title + ' ' + 6 * 7"},
                {"action": "press", "selector": "body", "key": "Tab"},
            ]
        }
        ctx = context(tmp_path, "browser", steps, allow=["browser"])
        registered = Registry.build(ctx.settings, extra=[]).get("browser")
        assert registered is not None
        pool = ctx.resources.browser
        try:
            first = await execution.run(registered, ctx, 60)
            assert first.success, first
            assert (
                first.data["steps"][5]["path"] == "outputs/page.png"
                and (tmp_path / "outputs/page.png").is_file()
            )
            pdf = tmp_path / first.data["steps"][6]["path"]
            assert pdf.read_bytes().startswith(b"%PDF")
            assert first.data["steps"][7]["value"] == "Done 42"
            second = await execution.run(registered, ctx, 60)
            assert second.success and pool.launches == 1
            _kill_chromium()
            third = await execution.run(registered, ctx, 60)  # the dead browser is replaced, not reported
            assert third.success and third.data["text"] == "Thanks, Ada!", third
            assert pool.launches == 2
        finally:
            await ctx.resources.close()

    asyncio.run(scenario())


def test_browser_steps_fail_clearly(tmp_path: Path, form_site: str) -> None:
    async def scenario() -> list[Outcome]:
        outcomes: list[Outcome] = []
        data: dict[str, Any]
        for data in (
            {"steps": [{"action": "goto", "url": "file:///etc/passwd"}]},
            {
                "steps": [{"action": "goto", "url": form_site}, {"action": "click", "selector": "#nothing"}],
                "step_timeout": 0.5,
            },
            {"steps": [{"action": "teleport"}]},
            {"steps": []},
        ):
            ctx = context(tmp_path, "browser", data, allow=["browser"])
            registered = Registry.build(ctx.settings, extra=[]).get("browser")
            assert registered is not None
            try:
                outcomes.append(await execution.run(registered, ctx, 30))
            finally:
                await ctx.resources.close()
        return outcomes

    scheme, missing, unknown, empty = asyncio.run(scenario())
    assert scheme.error == "step 1 (goto): file:///etc/passwd: only http(s) URLs may be opened"
    assert str(missing.error).startswith("step 2 (click): ") and "Timeout" in str(missing.error)
    assert missing.data["steps"][0]["action"] == "goto"
    assert "unknown browser action 'teleport'" in str(unknown.error)
    assert "non-empty list" in str(empty.error)


def test_a_missing_chromium_is_a_clear_failure(tmp_path: Path) -> None:
    ctx = context(
        tmp_path,
        "browser",
        {"steps": [{"action": "goto", "url": "about:blank"}]},
        allow=["browser"],
        browser_executable=str(tmp_path / "no-such-chromium"),
    )
    registered = Registry.build(ctx.settings, extra=[]).get("browser")
    assert registered is not None

    async def scenario() -> Outcome:
        try:
            return await execution.run(registered, ctx, 30)
        finally:
            await ctx.resources.close()

    outcome = asyncio.run(scenario())
    assert not outcome.success and str(outcome.error).startswith("could not start Chromium")
    assert "browser_executable" in str(outcome.error)


def _kill_chromium() -> None:
    """SIGKILL the browser's main process (the chromium child of Playwright's driver)."""
    browsers = [p for p in psutil.Process().children(recursive=True) if _is_browser_main(p)]
    assert browsers, "no chromium process found"
    for proc in browsers:
        with contextlib.suppress(
            psutil.Error
        ):  # psutil's own kill: a process gone meanwhile is NoSuchProcess
            proc.send_signal(signal.SIGKILL)
    wait_until(lambda: not any(_is_browser_main(p) for p in browsers), timeout=5)


def _is_browser_main(proc: psutil.Process) -> bool:
    try:
        return (
            "chrom" in proc.name().lower()
            and "crashpad" not in proc.name().lower()  # the crash reporter comes and goes on its own
            and proc.status() != psutil.STATUS_ZOMBIE
            and not any(arg.startswith("--type=") for arg in proc.cmdline())
        )
    except psutil.Error:
        return False
