"""The worker's parts on their own: file guard, template and text finding, registry, runner, link."""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
from datetime import date
from importlib.metadata import EntryPoint
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageDraw, ImageFont

from autonomic.errors import QueueUnavailable, UsageError
from autonomic.worker import execution, vision
from autonomic.worker.files import FileGuard
from autonomic.worker.link import Link
from autonomic.worker.outcome import Outcome, TaskFailed
from autonomic.worker.protocol import register
from autonomic.worker.registry import GROUP, Registry
from autonomic.worker.settings import WorkerSettings
from autonomic.workspace import Workspace
from tests.worker.support import context

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


# --- files ----------------------------------------------------------------------------------------


def test_file_guard_keeps_paths_inside_outputs(tmp_path: Path) -> None:
    workspace = Workspace.at(tmp_path)
    workspace.outputs.mkdir()
    guard = FileGuard.for_workspace(workspace, [])
    outputs = workspace.outputs
    assert guard.resolve("shot.png") == outputs / "shot.png"
    assert guard.resolve("outputs/a/b.png") == outputs / "a" / "b.png"
    assert guard.resolve(str(outputs / "abs.png")) == outputs / "abs.png"
    assert guard.resolve(None, "default.png") == outputs / "default.png"
    assert guard.relative(outputs / "x.png") == "outputs/x.png"
    for escape in ("../x.png", "outputs/../x.png", "/etc/passwd", str(tmp_path / "x.png")):
        with pytest.raises(TaskFailed):
            guard.resolve(escape)
    (outputs / "link").symlink_to("/etc")
    with pytest.raises(TaskFailed, match="outside the allowed folders"):
        guard.resolve("link/passwd")
    with pytest.raises(TaskFailed, match="no such file"):
        guard.readable("missing.png")


def test_file_guard_accepts_configured_folders(tmp_path: Path) -> None:
    workspace = Workspace.at(tmp_path)
    extra = tmp_path / "captures"
    guard = FileGuard.for_workspace(workspace, ["captures"])
    assert guard.resolve(str(extra / "a.png")) == extra / "a.png"
    assert guard.writable(str(extra / "deep" / "a.png")).parent.is_dir()


# --- vision ---------------------------------------------------------------------------------------


def _scene() -> Image.Image:
    image = Image.new("RGB", (400, 300), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((250, 180, 290, 210), fill="navy")
    draw.ellipse((60, 40, 100, 80), fill="darkred")
    draw.line((0, 150, 400, 150), fill="gray", width=3)
    return image


def test_template_match_finds_the_patch_and_respects_the_threshold() -> None:
    scene = _scene()
    patch = scene.crop((240, 170, 300, 220))
    match = vision.find_template(scene, patch)
    assert match is not None and (match.x, match.y) == (270, 195) and match.score > 0.99
    other = Image.new("RGB", (30, 30), "white")
    ImageDraw.Draw(other).polygon([(0, 29), (15, 0), (29, 29)], fill="green")
    assert vision.find_template(scene, other, threshold=0.9) is None
    with pytest.raises(TaskFailed, match="flat colour"):
        vision.find_template(scene, Image.new("RGB", (10, 10), "white"))
    with pytest.raises(TaskFailed, match="larger"):
        vision.find_template(scene.crop((0, 0, 10, 10)), scene)


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract is not installed")
def test_find_text_returns_the_centre_of_the_words() -> None:
    image = Image.new("RGB", (600, 200), "white")
    font = ImageFont.truetype(FONT, 32) if Path(FONT).exists() else ImageFont.load_default()
    ImageDraw.Draw(image).text((40, 30), "Open the Settings menu", fill="black", font=font)
    ImageDraw.Draw(image).text((40, 120), "Cancel", fill="black", font=font)
    match = vision.find_text(image, "settings menu")
    assert match is not None and 200 < match.x < 560 and 30 < match.y < 80
    cancel = vision.find_text(image, "CANCEL")
    assert cancel is not None and cancel.y > 110
    assert vision.find_text(image, "nothing like this") is None
    assert "Open the Settings menu" in vision.ocr(image)


# --- registry -------------------------------------------------------------------------------------


def _point(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=GROUP)


def shout(ctx: object) -> dict[str, str]:
    return {"text": str(ctx.data["text"]).upper()}  # type: ignore[attr-defined]


class Needy:
    capability = "shell"

    async def __call__(self, ctx: object) -> dict[str, bool]:
        return {"ran": True}


def test_entry_points_add_types_but_never_replace_built_ins(caplog: pytest.LogCaptureFixture) -> None:
    points = [
        _point("shout", f"{__name__}:shout"),
        _point("ping", f"{__name__}:shout"),
        _point("broken", "no_such_module_here:thing"),
        _point("needy", f"{__name__}:Needy"),
    ]
    with caplog.at_level(logging.WARNING, "autonomic.worker"):
        registry = Registry.build(WorkerSettings(), extra=points)
    assert registry.get("shout") is not None and registry.get("shout").origin.endswith("(entry point)")  # type: ignore[union-attr]
    assert registry.get("ping").origin == "built-in"  # type: ignore[union-attr]
    assert "broken" not in registry.types and "failed to load" in registry.skipped["broken"]
    assert "needy" not in registry.types and registry.skipped["needy"] == "needs 'shell' in [worker].allow"
    assert "that type is built in" in caplog.text
    allowed = Registry.build(WorkerSettings(allow=["shell"]), extra=points)
    assert allowed.get("needy") is not None and allowed.get("needy").is_async  # type: ignore[union-attr]


class Greedy:
    capability = "gpu"

    def __call__(self, ctx: object) -> dict[str, bool]:
        return {"ran": True}


def test_issue7_a_capability_outside_the_vocabulary_is_refused_naming_it() -> None:
    registry = Registry.build(WorkerSettings(), extra=[_point("greedy", f"{__name__}:Greedy")])
    why = registry.skipped["greedy"]
    assert "needs capability 'gpu'" in why and '"desktop-input"' in why and "greedy" not in registry.types


def test_types_restrict_what_is_claimed() -> None:
    registry = Registry.build(WorkerSettings(types=["ping", "wait"]), extra=[])
    assert registry.types == ["ping", "wait"]
    assert Registry.build(WorkerSettings(), extra=[], only=["ocr"]).types == ["ocr"]
    with pytest.raises(UsageError, match="cannot claim 'shell': needs 'shell'"):
        Registry.build(WorkerSettings(types=["shell"]), extra=[])
    with pytest.raises(UsageError, match="no handler for it"):
        Registry.build(WorkerSettings(), extra=[], only=["fax"])


def test_settings_refuse_nonsense_patterns() -> None:
    with pytest.raises(ValueError, match="python_modules"):
        WorkerSettings(python_modules=["*"])
    with pytest.raises(ValueError, match="shell_commands"):
        WorkerSettings(shell_commands=[" "])
    assert WorkerSettings(lease="1.5s", drain_timeout="1m").drain_timeout == 60.0


# --- runner ---------------------------------------------------------------------------------------


def test_runner_runs_sync_handlers_in_a_thread_and_makes_results_json(tmp_path: Path) -> None:
    threads: list[str] = []

    def sync(ctx: object) -> dict[str, object]:
        threads.append(threading.current_thread().name)
        return {"when": date(2024, 1, 2), "path": Path("/x"), "pair": (1, 2)}

    outcome = asyncio.run(execution.run(register("t", sync), context(tmp_path, "t"), 5))
    assert outcome.success and outcome.data["when"] == "2024-01-02" and outcome.data["pair"] == [1, 2]
    assert threads and threads[0] != threading.main_thread().name


def test_runner_turns_errors_and_timeouts_into_failure_results(tmp_path: Path) -> None:
    def boom(ctx: object) -> dict[str, object]:
        raise KeyError("missing")

    outcome = asyncio.run(execution.run(register("t", boom), context(tmp_path, "t"), 5))
    assert outcome == Outcome(
        False, {"execution_time": outcome.data["execution_time"]}, "KeyError: 'missing'"
    )
    ctx = context(tmp_path, "t")
    stuck = threading.Event()

    def slow(ctx_: object) -> dict[str, object]:
        stuck.wait(5)
        return {}

    timed = asyncio.run(execution.run(register("t", slow), ctx, 0.2))
    stuck.set()
    assert timed.error == "timed out after 0.2s" and ctx.cancelled.is_set()
    assert (
        execution.task_timeout({"timeout": 2}, 10) == 2 and execution.task_timeout({"timeout": 99}, 10) == 10
    )
    assert execution.task_timeout({"timeout": True}, 10) == 10


# --- link -----------------------------------------------------------------------------------------


def test_link_logs_once_per_state_change(caplog: pytest.LogCaptureFixture) -> None:
    link = Link("http://127.0.0.1:1")
    with caplog.at_level(logging.INFO, "autonomic.worker"):
        delays = [link.down(QueueUnavailable("queue server not reachable")) for _ in range(8)]
        link.up()
        link.up()
        link.down(QueueUnavailable("queue server not reachable"))
    assert delays[0] < delays[3] <= delays[-1] == 2.0
    lines = [r.getMessage() for r in caplog.records]
    assert (
        sum("unreachable" in line for line in lines) == 2 and sum("connected" in line for line in lines) == 1
    )


def test_issue3_a_server_error_is_waited_out_not_turned_into_a_failure_result() -> None:
    """A 5xx says nothing against the result: it is sent again, unchanged, until the server takes it."""
    from autonomic.queue.answers import check
    from autonomic.worker.outbox import Outbox
    from autonomic.worker.outcome import Outcome

    class Failing:
        def __init__(self, failures: int) -> None:
            self.failures = failures
            self.stored: list[tuple[str, bool, object, object]] = []

        async def submit(self, task_id: str, success: bool, data: object, error: object) -> None:
            if self.failures:
                self.failures -= 1
                check(httpx.Response(500, json={"detail": "database is locked"}))
            self.stored.append((task_id, success, data, error))

    async def deliver(client: Failing) -> None:
        outbox = Outbox(client, Link("http://127.0.0.1:1"), lambda _: None)  # type: ignore[arg-type]
        sender = asyncio.create_task(outbox.run())
        outbox.put("t1", Outcome(True, {"execution_time": 0.1, "answer": 42}))
        assert await outbox.flush(10)
        sender.cancel()

    client = Failing(failures=3)  # the old outbox gave up on the result after its 3rd refusal
    asyncio.run(deliver(client))
    assert client.stored == [("t1", True, {"execution_time": 0.1, "answer": 42}, None)]


# --- reserve -------------------------------------------------------------------------------------


def test_issue9_the_reserve_hands_out_urgent_first_then_in_claim_order() -> None:
    from types import SimpleNamespace

    from autonomic.worker.reserve import Reserve

    async def scenario() -> list[str]:
        reserve = Reserve()
        for name, priority in (("n1", "normal"), ("l1", "low"), ("n2", "normal"), ("u1", "urgent")):
            reserve.put(SimpleNamespace(task_id=name, priority=priority))
        first = [str(getattr(await reserve.get(), "task_id", None)) for _ in range(2)]
        left = [task.task_id for task in reserve.close()]
        assert await reserve.get() is None and reserve.take() is None
        return first + left

    assert asyncio.run(scenario()) == ["u1", "n1", "n2", "l1"]


def test_issue9_the_reserve_grows_only_while_tasks_are_near_instant() -> None:
    from autonomic.worker.reserve import MAX_RESERVE, Pace

    pace = Pace()
    assert pace.reserve(concurrency=2, prefetch=4) == 8  # nothing known yet: Celery's multiplier
    assert pace.reserve(concurrency=2, prefetch=0) == 0  # off
    pace.ran(0.00002)
    assert pace.reserve(concurrency=2, prefetch=4) == MAX_RESERVE  # no-ops: big batches
    assert pace.reserve(concurrency=2, prefetch=0) == 0
    for _ in range(50):
        pace.ran(2.0)
    assert pace.reserve(concurrency=2, prefetch=4) == 8  # slow tasks: the multiplier again
