"""`Hub`: what the web app shows and who is watching. The daemon puts each new summary and every
service state change in; each open page (a server-sent event stream) gets them from its own queue."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from typing import Any

from autonomic.monitor.dashboard.page import label, parts
from autonomic.monitor.history import History

BACKLOG = 256  # messages a slow page may fall behind before it is dropped (it reconnects)


class Hub:
    def __init__(self, history: History) -> None:
        self.history = history
        self.summary: dict[str, Any] | None = None
        self._watchers: set[asyncio.Queue[tuple[str, str] | None]] = set()
        self._changes: dict[str, tuple[float, str]] = {}  # the newest logged state of each service
        self.joined = asyncio.Event()  # set while a page is watching

    @property
    def watchers(self) -> int:
        return len(self._watchers)

    def parts_message(self) -> str:
        return json.dumps(parts(self.summary, self.history, live=True)) if self.summary else "{}"

    def publish_summary(self, summary: dict[str, Any]) -> None:
        """A new summary; a state logged after its sample was taken wins over the sampled one."""
        sampled_at = float((self.history.latest or {}).get("ts", 0.0))
        for entry in summary["services"]:
            change = self._changes.get(entry["name"])
            if change is not None and change[0] > sampled_at:
                entry["state"] = change[1]
        self.summary = summary
        if self._watchers:
            self._send("parts", self.parts_message())

    def publish_state(self, service: str, state: str, at: float) -> None:
        """A state change from the orchestrator's log, pushed at once (samples may miss short states)."""
        self._changes[service] = (at, state)
        if self.summary is not None:
            for entry in self.summary["services"]:
                if entry["name"] == service:
                    entry["state"] = state
        self._send("state", json.dumps({"service": service, "state": state, "label": label(state), "at": at}))

    def watching(self, queue: asyncio.Queue[tuple[str, str] | None]) -> bool:
        """False once a page fell too far behind and was dropped (its stream ends; the browser reconnects)."""
        return queue in self._watchers

    @contextlib.contextmanager
    def watch(self) -> Iterator[asyncio.Queue[tuple[str, str] | None]]:
        queue: asyncio.Queue[tuple[str, str] | None] = asyncio.Queue(BACKLOG)
        self._watchers.add(queue)
        self.joined.set()
        try:
            yield queue
        finally:
            self._watchers.discard(queue)
            if not self._watchers:
                self.joined.clear()

    def close(self) -> None:
        """Tell every stream to end (the server is stopping)."""
        for queue in list(self._watchers):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)

    def _send(self, event: str, data: str) -> None:
        for queue in list(self._watchers):
            try:
                queue.put_nowait((event, data))
            except asyncio.QueueFull:
                self._watchers.discard(queue)
        if not self._watchers:
            self.joined.clear()
