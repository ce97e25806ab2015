"""The live page's feed: a state logged after a sample wins over the sampled one, and a page that
falls too far behind is dropped (its browser reconnects) instead of holding memory."""

from __future__ import annotations

import asyncio
import json
import time

from autonomic.monitor.dashboard.hub import BACKLOG, Hub
from autonomic.monitor.events import Event
from autonomic.monitor.history import History
from autonomic.monitor.summary import build_summary
from tests.monitor.support import sample


def _hub(at: float) -> Hub:
    history = History(hold=30.0)
    history.add_sample(sample(at, {"web": "backoff"}))
    return Hub(history)


def test_a_state_logged_after_the_sample_wins() -> None:
    async def scenario() -> None:
        now = time.time()
        hub = _hub(now - 1)
        with hub.watch() as queue:
            hub.publish_state("web", "running", now)
            message = await asyncio.wait_for(queue.get(), 1)
            assert message is not None
            event, data = message
            assert event == "state" and json.loads(data)["label"] == "running"
            hub.publish_summary(build_summary(hub.history, {}, [], now, 10.0))
            assert hub.summary is not None and hub.summary["services"][0]["state"] == "running"
            message = await asyncio.wait_for(queue.get(), 1)
            assert message is not None
            event, data = message
            assert event == "parts" and 'data-state="running"' in json.loads(data)["services"]
        assert hub.watchers == 0 and not hub.joined.is_set()

    asyncio.run(scenario())


def test_a_page_that_falls_behind_is_dropped() -> None:
    async def scenario() -> None:
        hub = _hub(time.time())
        with hub.watch() as queue:
            assert hub.joined.is_set()
            for n in range(BACKLOG + 1):
                hub.publish_state("web", "running", float(n))
            assert not hub.watching(queue) and hub.watchers == 0

    asyncio.run(scenario())


def test_restarts_count_crashes_and_hangs_once_each() -> None:
    """A crash waits in `backoff`; a hang is `restarting` (and may pass through `backoff` too)."""
    now = time.time()
    history = History(hold=30.0)
    states = [
        ("web", "running"),
        ("web", "backoff"),  # a crash
        ("web", "starting"),
        ("web", "running"),
        ("web", "restarting"),  # a hang ...
        ("web", "backoff"),  # ... the same restart waiting its delay
        ("web", "starting"),
        ("web", "running"),
        ("db", "restarting"),  # a hang restarted at once
        ("db", "starting"),
    ]
    history.add_events(
        [Event(now - 60 + i, "state", target, status, "") for i, (target, status) in enumerate(states)]
    )
    assert history.restarts() == {"web": 2, "db": 1}
