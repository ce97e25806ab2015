"""`browser`: a list of Playwright steps run in a fresh context of the warm Chromium.

`data = {"steps": [{"action": "goto", "url": "http://..."}, {"action": "fill", "selector": "#q",
"value": "x"}, {"action": "click", "selector": "button"}, {"action": "text", "selector": "#out"}],
"step_timeout": 10}`. Actions: goto, click, fill, press, wait_for, text, screenshot, pdf, evaluate.
The result lists each step's output, the final url and title, and `text` (the last text read).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlparse

from autonomic.worker.context import TaskContext
from autonomic.worker.files import stamped
from autonomic.worker.outcome import Data, TaskFailed

Step = dict[str, Any]
SCHEMES = ("http", "https")
MAX_TEXT = 100_000


async def browser(ctx: TaskContext) -> Data:
    """Run the task's steps in order; the first failing step fails the task, naming the step."""
    steps = ctx.data.get("steps")
    if not isinstance(steps, list) or not steps or not all(isinstance(s, dict) for s in steps):
        raise TaskFailed("browser needs 'steps': a non-empty list of {action, ...} objects")
    for step in steps:
        if step.get("action") not in STEPS:
            raise TaskFailed(f"unknown browser action {step.get('action')!r}; known: {', '.join(STEPS)}")
    step_timeout = ctx.data.get("step_timeout", 10)
    if isinstance(step_timeout, bool) or not isinstance(step_timeout, int | float) or step_timeout <= 0:
        raise TaskFailed("step_timeout must be a positive number of seconds")
    context = await ctx.resources.browser.new_context()
    try:
        page = await context.new_page()
        page.set_default_timeout(float(step_timeout) * 1000)
        return await _run_steps(ctx, page, steps)
    finally:
        await context.close()


async def _run_steps(ctx: TaskContext, page: Any, steps: list[Step]) -> Data:
    outputs: list[Data] = []
    text: str | None = None
    for number, step in enumerate(steps, 1):
        action = str(step["action"])
        try:
            output = await STEPS[action](ctx, page, step)
        except TaskFailed as failure:
            raise TaskFailed(f"step {number} ({action}): {failure}", {"steps": outputs}) from None
        except Exception as exc:  # Playwright's own errors: timeouts, missing selectors, navigation
            raise TaskFailed(f"step {number} ({action}): {_first_line(exc)}", {"steps": outputs}) from None
        outputs.append({"action": action, **output})
        if "text" in output:
            text = output["text"]
    return {"steps": outputs, "url": page.url, "title": await page.title(), "text": text}


async def _goto(ctx: TaskContext, page: Any, step: Step) -> Data:
    url = _required(step, "url")
    if urlparse(url).scheme.lower() not in SCHEMES and url != "about:blank":
        raise TaskFailed(f"{url}: only http(s) URLs may be opened")
    response = await page.goto(url, wait_until=step.get("wait_until", "load"))
    return {"url": page.url, "status": response.status if response is not None else None}


async def _click(ctx: TaskContext, page: Any, step: Step) -> Data:
    await page.click(_required(step, "selector"))
    return {"selector": step["selector"]}


async def _fill(ctx: TaskContext, page: Any, step: Step) -> Data:
    await page.fill(_required(step, "selector"), str(step.get("value", "")))
    return {"selector": step["selector"]}


async def _press(ctx: TaskContext, page: Any, step: Step) -> Data:
    await page.press(_required(step, "selector"), _required(step, "key"))
    return {"selector": step["selector"], "key": step["key"]}


async def _wait_for(ctx: TaskContext, page: Any, step: Step) -> Data:
    if "url" in step:
        await page.wait_for_url(_required(step, "url"))
        return {"url": page.url}
    await page.wait_for_selector(_required(step, "selector"), state=step.get("state", "visible"))
    return {"selector": step["selector"]}


async def _text(ctx: TaskContext, page: Any, step: Step) -> Data:
    selector = str(step.get("selector", "body"))
    text = str(await page.inner_text(selector))
    return {"selector": selector, "text": text[:MAX_TEXT]}


async def _screenshot(ctx: TaskContext, page: Any, step: Step) -> Data:
    path = ctx.files.writable(step.get("path"), stamped("browser"))
    await page.screenshot(path=str(path), full_page=bool(step.get("full_page", False)))
    return {"path": ctx.files.relative(path)}


async def _pdf(ctx: TaskContext, page: Any, step: Step) -> Data:
    path = ctx.files.writable(step.get("path"), stamped("page", ".pdf"))
    await page.pdf(path=str(path))
    return {"path": ctx.files.relative(path)}


async def _evaluate(ctx: TaskContext, page: Any, step: Step) -> Data:
    value = await page.evaluate(_required(step, "expression"))
    return {"value": json.loads(json.dumps(value, default=str))}


STEPS: dict[str, Callable[[TaskContext, Any, Step], Awaitable[Data]]] = {
    "goto": _goto,
    "click": _click,
    "fill": _fill,
    "press": _press,
    "wait_for": _wait_for,
    "text": _text,
    "screenshot": _screenshot,
    "pdf": _pdf,
    "evaluate": _evaluate,
}


def _required(step: Step, key: str) -> str:
    value = step.get(key)
    if not isinstance(value, str) or not value:
        raise TaskFailed(f"'{key}' is required (a string)")
    return value


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
