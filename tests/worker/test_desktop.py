"""Desktop tasks under Xvfb, run by a real worker process against a real queue server (issue 4).

The worker drives a real Tk window: it clicks into a field, types, clicks a button found by OCR, presses
a hotkey, and reads rendered text back with Tesseract.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from tests.helpers import wait_until
from tests.worker.conftest import Display, Server, Stack, TkApp

pytestmark = pytest.mark.desktop
BANNER = "HELLO AUTONOMIC 42"


@pytest.fixture
def desktop(stack: Stack, xvfb: Display, tk_app: TkApp) -> tuple[Server, TkApp, Path]:
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract is not installed (apt-get install tesseract-ocr tesseract-ocr-eng)")
    root = stack.workspace(worker={"allow": ["desktop-input"], "concurrency": 1})
    server = stack.server(root)
    stack.worker(root, env=xvfb.env)
    return server, tk_app, root


def test_issue4_done_when_wait_screenshot_ocr_through_the_original_api(
    desktop: tuple[Server, TkApp, Path],
) -> None:
    server, _, root = desktop
    ids = [server.create("wait", {"seconds": 0.5}), server.create("screenshot", {}), server.create("ocr", {})]
    for task_id in ids:
        server.result(task_id)
    with server.api() as api:
        listed = api.get("/api/results", params={"limit": 10}).json()
    results = {r["task_id"]: r for r in listed["results"] if r["task_id"] in ids}
    assert len(results) == 3 and all(r["success"] for r in results.values()), results
    waited, shot, read = (results[i] for i in ids)
    assert waited["data"]["slept"] == 0.5 and waited["data"]["execution_time"] >= 0.5
    assert shot["data"]["path"].startswith("outputs/screenshot_")
    assert (shot["data"]["width"], shot["data"]["height"]) == (1280, 800)
    assert Image.open(root / shot["data"]["path"]).size == (1280, 800)
    assert read["data"]["engine"] == "tesseract"
    assert BANNER in read["data"]["preview"] and read["data"]["chars"] >= len(BANNER)
    assert all("execution_time" in r["data"] for r in results.values())


def test_click_type_and_click_by_text_fill_and_submit_a_real_window(
    desktop: tuple[Server, TkApp, Path],
) -> None:
    server, app, _ = desktop
    x, y = app.center("entry")
    clicked = server.run("rpa", {"action": "click", "params": {"x": x, "y": y}})
    assert clicked["success"], clicked
    assert {k: clicked["data"][k] for k in ("x", "y", "button", "clicks")} == {
        "x": x,
        "y": y,
        "button": "left",
        "clicks": 1,
    }
    typed = server.run(
        "rpa_command", {"action": "type", "params": {"text": "hello autonomic", "interval": 0}}
    )
    assert typed["success"] and typed["data"]["typed"] == len("hello autonomic"), typed
    submit = server.run("rpa", {"action": "click", "params": {"text": "Submit"}})
    assert submit["success"], submit
    bx, by = app.center("button")
    assert abs(submit["data"]["x"] - bx) < 40 and abs(submit["data"]["y"] - by) < 20
    wait_until(app.submitted.exists, timeout=5, what="the app to write what was submitted")
    assert app.submitted.read_text() == "hello autonomic"


def test_hotkey_reaches_the_window(desktop: tuple[Server, TkApp, Path]) -> None:
    server, app, _ = desktop
    assert server.run(
        "rpa", {"action": "click", "params": dict(zip("xy", app.center("entry"), strict=True))}
    )["success"]
    result = server.run("rpa", {"action": "hotkey", "params": {"keys": ["ctrl", "s"]}})
    assert result["success"] and result["data"]["keys"] == ["ctrl", "s"], result
    wait_until(app.hotkey.exists, timeout=5, what="the Ctrl+S binding to fire")


def test_find_element_by_template_and_by_text(desktop: tuple[Server, TkApp, Path]) -> None:
    server, app, _ = desktop
    box = app.geometry["button"]
    shot = server.run(
        "screenshot",
        {"region": [box["x"], box["y"], box["width"], box["height"]], "save_path": "outputs/button.png"},
    )
    assert shot["success"] and shot["data"]["path"] == "outputs/button.png", shot
    found = server.run("rpa", {"action": "find_element", "params": {"template": "outputs/button.png"}})
    assert found["success"] and found["data"]["found"], found
    bx, by = app.center("button")
    assert abs(found["data"]["location"][0] - bx) <= 2 and abs(found["data"]["location"][1] - by) <= 2
    assert found["data"]["score"] > 0.99
    by_text = server.run("rpa", {"action": "find_element", "params": {"text": "AUTONOMIC"}})
    label = app.geometry["label"]
    assert by_text["data"]["found"], by_text
    assert label["x"] <= by_text["data"]["location"][0] <= label["x"] + label["width"]
    missing = server.run("rpa", {"action": "find_element", "params": {"text": "no such words here"}})
    assert missing["success"] and missing["data"] == {
        "found": False,
        "location": None,
        "score": None,
        "execution_time": missing["data"]["execution_time"],
    }


def test_ocr_of_a_region_and_of_a_saved_image(desktop: tuple[Server, TkApp, Path]) -> None:
    server, app, _ = desktop
    label = app.geometry["label"]
    region = [label["x"], label["y"], label["width"], label["height"]]
    live = server.run("ocr", {"region": region, "lang": "eng"})
    assert live["success"] and live["data"]["preview"].strip() == BANNER, live
    server.run("screenshot", {"region": region, "save_path": "label.png"})
    from_file = server.run("rpa", {"action": "ocr", "params": {"source": "outputs/label.png"}})
    assert from_file["success"] and BANNER in from_file["data"]["preview"], from_file


def test_benchmark_test_times_a_screenshot(desktop: tuple[Server, TkApp, Path]) -> None:
    server, _, root = desktop
    result = server.run("benchmark_test")
    assert result["success"], result
    data = result["data"]
    assert data["status"] == "completed" and data["worker"] == "w1" and 0 < data["benchmark_time"] < 5
    assert (root / data["screenshot_path"]).is_file() and "timestamp" in data


def test_open_browser_uses_the_desktop_browser(stack: Stack, xvfb: Display, tmp_path: Path) -> None:
    recorder = tmp_path / "browser.sh"
    opened = tmp_path / "opened.txt"
    recorder.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    recorder.chmod(0o755)
    root = stack.workspace()
    server = stack.server(root)
    stack.worker(root, env={**xvfb.env, "BROWSER": f"{recorder} %s"})
    result = server.run("open_browser", {"url": "https://example.test/page"})
    assert result["success"] and result["data"]["opened"] == "https://example.test/page", result
    wait_until(lambda: opened.exists() and "example.test" in opened.read_text(), timeout=5)
    refused = server.run("open_browser", {"url": "file:///etc/passwd"})
    assert not refused["success"] and "'desktop-input'" in refused["error"]
    assert "example.test" in opened.read_text() and "passwd" not in opened.read_text()


def test_failures_carry_no_screen_capture_unless_configured(
    stack: Stack, xvfb: Display, tk_app: TkApp
) -> None:
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract is not installed")
    quiet_root = stack.workspace(worker={"allow": ["desktop-input"]}, name="quiet")
    quiet = stack.server(quiet_root)
    stack.worker(quiet_root, env=xvfb.env)
    missing = {"action": "click", "params": {"text": "no such button anywhere"}}
    plain = quiet.run("rpa", missing)
    assert not plain["success"] and plain["data"].keys() == {"execution_time"}
    assert plain["error"] == "element not found on screen: no such button anywhere"
    assert not list((quiet_root / "outputs").glob("error_*"))
    loud_root = stack.workspace(
        worker={"allow": ["desktop-input"], "attach_screenshot_on_error": True}, name="loud"
    )
    loud = stack.server(loud_root)
    stack.worker(loud_root, env=xvfb.env)
    attached = loud.run("rpa", missing)
    assert not attached["success"] and attached["data"]["error_screenshot"].startswith("outputs/error_")
    assert (loud_root / attached["data"]["error_screenshot"]).is_file()
    assert "preview" not in attached["data"]  # a path to a file under outputs/, never the image or its text
