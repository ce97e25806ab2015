"""`python`: call `module:function` from a module the config lists (capability "python").

`data = {"function": "mypkg.jobs:resize", "args": [...], "kwargs": {...}}`. The module must match
`[worker].python_modules` ("mypkg.jobs" exactly, or "mypkg.*" for the package and everything in it);
the workspace root is importable. Async functions run on the worker's loop, others in a thread. A
returned dict is the result data; anything else is returned as `{"result": value}`.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from collections.abc import Callable
from typing import Any

from autonomic.worker.context import TaskContext
from autonomic.worker.outcome import Data, TaskFailed

TARGET = re.compile(r"^(?P<module>[A-Za-z_][\w.]*):(?P<function>[A-Za-z_][\w.]*)$")


def module_allowed(module: str, patterns: list[str]) -> bool:
    """True when `module` is listed exactly, or lies inside a listed `package.*`."""
    for pattern in patterns:
        if pattern.endswith(".*"):
            package = pattern[:-2]
            if module == package or module.startswith(package + "."):
                return True
        elif module == pattern:
            return True
    return False


async def python(ctx: TaskContext) -> Data:
    """Import the allowed module, call the function with the task's args, and return what it gave."""
    target = ctx.data.get("function")
    match = TARGET.match(target) if isinstance(target, str) else None
    if match is None:
        raise TaskFailed("function must be 'module:function', e.g. 'mypkg.jobs:resize'")
    module_name = match["module"]
    if not module_allowed(module_name, ctx.settings.python_modules):
        raise TaskFailed(f"module {module_name!r} is not listed in [worker].python_modules")
    args, kwargs = ctx.data.get("args") or [], ctx.data.get("kwargs") or {}
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise TaskFailed("args must be a list and kwargs an object")
    function = _resolve(ctx, module_name, match["function"])
    if inspect.iscoroutinefunction(function):
        result = await function(*args, **kwargs)
    else:
        result = await ctx.in_thread(lambda: function(*args, **kwargs))
    return result if isinstance(result, dict) else {"result": result}


def _resolve(ctx: TaskContext, module_name: str, attribute: str) -> Callable[..., Any]:
    root = str(ctx.workspace.root)
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise TaskFailed(f"cannot import {module_name}: {exc}") from None
    for part in attribute.split("."):
        if part.startswith("_"):
            raise TaskFailed(f"{module_name}:{attribute}: private names cannot be called")
        found = getattr(found, part, None)
        if found is None:
            raise TaskFailed(f"{module_name} has no {attribute}")
    if not callable(found):
        raise TaskFailed(f"{module_name}:{attribute} is not callable")
    return found  # type: ignore[no-any-return]
