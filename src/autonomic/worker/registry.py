"""Which handler runs which task type: the built-ins, then third-party entry points.

A handler whose capability is not in `[worker].allow` is left out, so its type is never claimed here
and stays available to a worker that is allowed to run it. Third-party handlers come from the
entry-point group `autonomic.handlers` (name = task type); they cannot replace a built-in type.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points

from autonomic.errors import UsageError
from autonomic.values import Capability
from autonomic.worker.handlers import basic, browser, http, python, rpa, shell
from autonomic.worker.protocol import Registered, register
from autonomic.worker.settings import WorkerSettings

log = logging.getLogger("autonomic.worker")
GROUP = "autonomic.handlers"


def builtins() -> list[Registered]:
    """Every built-in handler, each with the capability it needs (None: always on)."""
    table: list[tuple[str, object, Capability | None]] = [
        ("ping", basic.ping, None),
        ("health_check", basic.health_check, None),
        ("rpa", rpa.rpa, None),
        ("rpa_command", rpa.rpa, None),
        *((name, rpa.shorthand(name), None) for name in rpa.SHORTHANDS),
        ("benchmark_test", rpa.benchmark_test, None),
        ("browser", browser.browser, Capability.BROWSER),
        ("http", http.http, Capability.HTTP),
        ("python", python.python, Capability.PYTHON),
        ("shell", shell.shell, Capability.SHELL),
    ]
    return [
        Registered(reg.type, reg.handler, capability, reg.is_async)
        for reg, capability in ((register(name, fn), cap) for name, fn, cap in table)
    ]


@dataclass
class Registry:
    """The handlers this worker runs, keyed by task type, and those it left out (with why)."""

    handlers: dict[str, Registered] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        settings: WorkerSettings,
        extra: Iterable[EntryPoint] | None = None,
        only: Iterable[str] | None = None,
    ) -> Registry:
        """Built-ins plus entry points, filtered by `allow` and by `only` (or `settings.types`)."""
        registry = cls()
        built_in = builtins()
        for registered in built_in:
            registry._add(registered, settings)
        reserved = {registered.type for registered in built_in}
        for point in entry_points(group=GROUP) if extra is None else extra:
            if point.name in reserved:
                log.warning("handler %s for %r ignored: that type is built in", point.value, point.name)
                continue
            registry._add_entry_point(point, settings)
        wanted = list(only) if only else list(settings.types)
        if wanted:
            registry._restrict(wanted)
        return registry

    @property
    def types(self) -> list[str]:
        return sorted(self.handlers)

    def get(self, type_: str) -> Registered | None:
        return self.handlers.get(type_)

    def _add(self, registered: Registered, settings: WorkerSettings) -> None:
        if registered.capability and registered.capability not in settings.allow:
            self.skipped[registered.type] = f"needs '{registered.capability}' in [worker].allow"
            return
        self.handlers[registered.type] = registered

    def _add_entry_point(self, point: EntryPoint, settings: WorkerSettings) -> None:
        origin = f"{point.value} (entry point)"
        try:
            registered = register(point.name, point.load(), origin)
        except Exception as exc:  # a broken plugin must not stop the worker
            log.warning("handler %s for %r could not be loaded: %s", origin, point.name, exc)
            self.skipped[point.name] = f"entry point failed to load: {exc}"
            return
        self._add(registered, settings)

    def _restrict(self, wanted: list[str]) -> None:
        for type_ in wanted:
            if type_ not in self.handlers:
                why = self.skipped.get(type_, "no handler for it")
                raise UsageError(f"worker types: cannot claim {type_!r}: {why}")
        self.handlers = {t: h for t, h in self.handlers.items() if t in wanted}
