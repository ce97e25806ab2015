"""The service loop's timing on a fake clock and a fake spawner: backoff, the fatal cool-down and its
countdown, and the "did not exit at once" rule, without sleeping through any of them."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from autonomic.clock import FakeClock
from autonomic.eventlog import EventLog
from autonomic.platform import Platform
from autonomic.platform import current as current_platform
from autonomic.supervisor.backoff import Backoff
from autonomic.supervisor.process import ManagedProcess
from autonomic.supervisor.service import Context, Service
from autonomic.supervisor.spec import BackoffSpec, ServiceSpec
from autonomic.supervisor.state import ServiceState


class FakeProcess(ManagedProcess):
    """A process that lives until the test ends it (pid: this test's own, so "alive" probes pass)."""

    def __init__(self, clock: FakeClock, platform: Platform, code: int | None) -> None:
        super().__init__(os.getpid(), clock.time(), clock.time(), ["fake"], platform)
        self.clock = clock
        self.ended = asyncio.Event()
        self.code = code
        if code is not None:
            self.ended.set()

    @property
    def uptime(self) -> float:
        return self.clock.time() - self.started_at

    async def wait(self) -> int | None:
        await self.ended.wait()
        return self.code

    def is_alive(self) -> bool:
        return not self.ended.is_set()

    async def stop(self, signal_name: str, timeout: float) -> None:
        self.code = -15
        self.ended.set()


def _harness(
    tmp_path: Path, exits: list[int | None]
) -> tuple[Service, FakeClock, list[FakeProcess], list[float]]:
    clock = FakeClock()
    platform = current_platform()
    spawned: list[FakeProcess] = []
    slept: list[float] = []

    def spawn(
        argv: list[str], cwd: str, env: dict[str, str], log_path: Path, platform: Platform
    ) -> ManagedProcess:
        code = exits[len(spawned)] if len(spawned) < len(exits) else None
        spawned.append(FakeProcess(clock, platform, code))
        return spawned[-1]

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)
        await asyncio.sleep(0)

    spec = ServiceSpec(
        name="svc",
        argv=["fake"],
        cwd=str(tmp_path),
        backoff=BackoffSpec(initial=0.5, max=4.0, reset_after=10.0, max_failures=4, cooldown=60.0),
    )
    services: dict[str, Service] = {}
    ctx = Context(
        platform=platform,
        events=EventLog(tmp_path / "events.jsonl"),
        records_dir=tmp_path / "pids",
        logs_dir=tmp_path / "logs",
        env_for=lambda _: {},
        changed=asyncio.Condition(),
        lookup=services.get,
        root=tmp_path,
        clock=clock,
        sleep=sleep,
        spawner=spawn,
    )
    service = Service(spec, ctx)
    service.backoff = Backoff(spec.backoff, rng=lambda: 0.5)  # no jitter
    services["svc"] = service
    return service, clock, spawned, slept


async def _until(check: object, what: str) -> None:
    for _ in range(2000):
        if callable(check) and check():
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"never reached: {what}")


def test_a_crash_loop_backs_off_goes_fatal_with_a_countdown_then_tries_again(tmp_path: Path) -> None:
    async def scenario() -> None:
        service, clock, spawned, slept = _harness(tmp_path, [1, 1, 1, 1, None])
        seen: list[tuple[ServiceState, float | None]] = []
        original = service._set_state

        async def spy(new: ServiceState, detail: str = "", reason: str | None = None) -> None:
            await original(new, detail, reason)
            seen.append((new, service.retry_at))
            if new is ServiceState.FATAL:
                status = service.status()
                assert status.detail == "exited with code 1; 4 failures in a row"
                assert status.retry_at == clock.time() + 60.0  # what `status` counts down from

        service._set_state = spy  # type: ignore[method-assign]
        started = clock.time()
        service.start()
        await _until(lambda: service.state is ServiceState.RUNNING, "running after the cool-down")
        assert len(spawned) == 5  # four failures in a row (max_failures), then the fifth try holds
        assert slept.index(0.5) < slept.index(60.0)  # backoff doubling from `initial`, then the cool-down
        assert clock.time() - started >= 0.5 + 1.0 + 60.0  # the cool-down was waited out, on the fake clock
        assert ServiceState.FATAL in [state for state, _ in seen]
        await service.stop("test over")
        assert service.state is ServiceState.STOPPED and not service.wanted

    asyncio.run(asyncio.wait_for(scenario(), 20))


def test_without_a_probe_a_process_must_outlive_the_start_window(tmp_path: Path) -> None:
    async def scenario() -> None:
        service, _, spawned, slept = _harness(tmp_path, [None])
        service.start()
        await _until(lambda: service.state is ServiceState.RUNNING, "running")
        assert slept[0] == 1.0  # it was not called running before it had stayed up for a second
        assert service.status().settled
        spawned[0].code = 3
        spawned[0].ended.set()
        await _until(lambda: len(spawned) == 2, "restarted")
        assert service.restarts == 1
        await service.stop()

    asyncio.run(asyncio.wait_for(scenario(), 20))
