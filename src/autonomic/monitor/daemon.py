"""`Monitor`: the daemon loop. Every `interval` it takes a sample, appends it to the sample log, touches
its heartbeat, updates the alerts and the live page; every `report_every` it rewrites the four reports.
The web server runs in the same event loop; a busy port is logged and retried, and never stops sampling.
State changes from the orchestrator's log reach open pages within half a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Generator
from typing import Any

import uvicorn

from autonomic import api_token
from autonomic.clock import Clock, SystemClock
from autonomic.eventlog import EventLog
from autonomic.monitor.alerts import AlertBook, recent
from autonomic.monitor.dashboard.app import DashboardApp
from autonomic.monitor.dashboard.hub import Hub
from autonomic.monitor.dashboard.sessions import Sessions
from autonomic.monitor.dashboard.sitecheck import SiteCheck
from autonomic.monitor.events import EventTail
from autonomic.monitor.history import History
from autonomic.monitor.notify import DesktopNotifier
from autonomic.monitor.reports import ReportFiles, write_reports
from autonomic.monitor.rules import Rules, backup_age_for
from autonomic.monitor.samplelog import SampleLog
from autonomic.monitor.sampler import Sampler
from autonomic.monitor.settings import MonitorSettings
from autonomic.monitor.sources import QueueFacts, orchestrator_status
from autonomic.supervisor.control import ControlClient
from autonomic.workspace import Workspace

log = logging.getLogger("autonomic.monitor")
LIVE_TICK = 0.5  # how often the orchestrator's log is read while a page is open
BIND_RETRY = 30.0


class Monitor:
    def __init__(
        self,
        workspace: Workspace,
        settings: MonitorSettings,
        queue_url: str | None,
        backups_dir: os.PathLike[str] | str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.workspace = workspace
        self.settings = settings
        self.clock = clock or SystemClock()
        self.queue = QueueFacts.for_workspace(workspace, queue_url) if queue_url else None
        self.sampler = Sampler(workspace.root, orchestrator_status(workspace), self.queue, self.clock)
        self.samples = SampleLog(workspace.metrics_file, settings.keep_days, settings.max_size)
        self.history = History(hold=3 * settings.interval)
        self.events = EventTail(workspace.orchestrator_log)
        backup_age = backup_age_for(workspace.root / backups_dir) if backups_dir is not None else None
        self.rules = Rules(settings.alerts, backup_age)
        self.alerts = AlertBook(
            settings.alerts,
            EventLog(workspace.alerts_file, max_bytes=5 * 1024 * 1024),
            self.clock,
            workspace.state_dir / "monitor-alerts.json",
            DesktopNotifier() if settings.notify else None,
        )
        self.files = ReportFiles.under(workspace.outputs)
        self.hub = Hub(self.history)
        self._stop = asyncio.Event()
        self._last_report: float | None = None  # monotonic time of the last report; None: never

    # --- one step at a time (also what `autonomic report` uses) ------------------------------------
    def load(self) -> None:
        """Fill the history with the last 24 h from the files (a restart keeps the reports whole)."""
        since = self.clock.time() - self.history.window
        for sample in self.samples.read(since):
            self.history.add_sample(sample)
        self.history.add_events(self.events.read())  # older ones too: the state each service entered with
        self.history.trim(self.clock.time())

    def step(self) -> dict[str, Any]:
        """Take, store and judge one sample."""
        return self.record(self.sampler.sample())

    def record(self, sample: dict[str, Any]) -> dict[str, Any]:
        """Store and judge a sample. The daemon calls this on its event loop, the only place the history
        changes, so the pages it renders there never see the history half-updated."""
        self.samples.append(sample)
        self.history.add_sample(sample)
        self.history.add_events(self.events.read())
        self.alerts.update(self.rules.evaluate(sample))
        return sample

    def summary(self) -> dict[str, Any]:
        from autonomic.monitor.summary import build_summary

        now = self.clock.time()
        recent_alerts = recent(self.workspace.alerts_file, now - self.history.window)
        return build_summary(self.history, self.alerts.firing(), recent_alerts, now, self.settings.interval)

    def report(self) -> dict[str, Any]:
        """Rewrite the four report files; return the summary they were built from."""
        summary = self.summary()
        write_reports(self.files, summary, self.history, self.clock.time())
        return summary

    def beat(self) -> None:
        path = self.workspace.heartbeat_file("monitor")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{os.getpid()} {time.time():.3f}\n", encoding="utf-8")

    # --- the daemon ------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Sample, alert and report until SIGTERM/SIGINT, serving the dashboard meanwhile."""
        loop = asyncio.get_running_loop()
        for name in ("SIGTERM", "SIGINT"):
            with contextlib.suppress(NotImplementedError, AttributeError, ValueError):
                loop.add_signal_handler(getattr(signal, name), self._stop.set)
        self.beat()
        await asyncio.to_thread(self.load)
        web = asyncio.create_task(self._serve())
        live = asyncio.create_task(self._live_states())
        for task in (web, live):
            task.add_done_callback(_report_crash)
        try:
            await self._loop()
        finally:
            self.hub.close()
            live.cancel()
            web.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.gather(web, live, return_exceptions=True), 3.0)
            if self.queue is not None:
                self.queue.close()

    async def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.beat()
            try:
                self.record(await asyncio.to_thread(self.sampler.sample))
                last = self._last_report
                if last is None or time.monotonic() - last >= self.settings.report_every:
                    self._last_report = time.monotonic()
                    self.hub.publish_summary(await asyncio.to_thread(self.report))
                elif self.hub.watchers:
                    self.hub.publish_summary(await asyncio.to_thread(self.summary))
            except OSError as exc:  # a full disk or an unwritable outputs/: say so, keep sampling
                log.error("could not write the monitor's files: %s", exc)
            wait = max(0.0, self.settings.interval - (time.monotonic() - started))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), wait)

    async def _live_states(self) -> None:
        """Push the orchestrator's state changes to open pages as they are logged."""
        tail = EventTail(self.workspace.orchestrator_log)
        tail.read(self.clock.time())  # skip what is already there
        while True:
            if not self.hub.watchers:  # nobody looking: sleep until a page opens
                await self.hub.joined.wait()
                newer_than = float((self.history.latest or {}).get("ts", 0.0))
            else:
                await asyncio.sleep(LIVE_TICK)
                newer_than = 0.0
            for event in tail.read(newer_than):  # a stat and a short read: cheap enough for the loop
                if event.action == "state":
                    self.hub.publish_state(event.target, event.status, event.at)

    async def _serve(self) -> None:
        token, _ = api_token.mint(self.workspace)
        control = _control(self.workspace)
        app = DashboardApp(
            self.hub, Sessions(self.clock), token, control, f"autonomic_monitor_{self.settings.port}"
        )
        site = SiteCheck(self.settings.bind, self.settings.allowed_hosts, self.settings.allowed_origins)
        asgi = app.asgi(site)
        warned = False
        while True:
            try:
                sock = _listen(self.settings.bind, self.settings.port)
            except OSError as exc:
                if not warned:
                    log.error(
                        "dashboard: cannot listen on %s: %s; retrying every %gs",
                        self.settings.url,
                        exc,
                        BIND_RETRY,
                    )
                    warned = True
                await asyncio.sleep(BIND_RETRY)
                continue
            log.info("dashboard on %s", self.settings.url)
            server = _Server(_config(asgi))
            try:
                await server.serve(sockets=[sock])
            finally:
                server.should_exit = True
                sock.close()
            return


def _report_crash(task: asyncio.Task[None]) -> None:
    """A helper task that died of a bug: say so (sampling goes on without it)."""
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("monitor: %s stopped: %r", task.get_coro().__qualname__, error)  # type: ignore[union-attr]


def _control(workspace: Workspace) -> Any:
    def send(command: str, service: str) -> dict[str, Any]:
        return ControlClient.for_file(workspace.control_file).request(command, timeout=60.0, service=service)

    return send


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling (the monitor owns SIGTERM/SIGINT), and with a
    housekeeping tick of 1 s instead of 0.1 s: ten wake-ups a second were most of an idle monitor's CPU."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def main_loop(self) -> None:
        while not await self.on_tick(0):  # tick 0 refreshes the Date header, checks should_exit
            await asyncio.sleep(1.0)


def _config(app: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="none",
        server_header=False,
        timeout_graceful_shutdown=2,
    )


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if os.name == "posix":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock
