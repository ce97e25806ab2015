"""`autonomic bringup`, the seed's "Auto: Bring-up on VS Code Open (safe)": start what is missing, then
server check -> worker check -> core probe -> monitoring report -> realtime dashboard -> the health box.

Safe any number of times and concurrently: starting goes through `autonomic up` (one orchestrator per
workspace by its lock, services adopted or started once by it), the rest only looks or rewrites reports
atomically. When all is up it returns in a few seconds."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from autonomic.health import checks
from autonomic.health.autofix import Runner, run_command
from autonomic.health.check import CheckId
from autonomic.health.context import HealthContext
from autonomic.health.report import HealthReport
from autonomic.supervisor import launcher

SETTLE = 20.0  # how long the checks of just-started services may take to pass


@dataclass(frozen=True)
class Step:
    name: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.name, "ok": self.ok, "detail": self.detail}


def bringup(
    ctx: HealthContext,
    say: Callable[[Step], None] = lambda step: None,
    run: Runner = run_command,
    timeout: float = 120.0,
) -> tuple[list[Step], HealthReport]:
    """Run the chain; every step is reported through `say` as it ends. Raises `AutonomicError` when the
    services cannot be brought up at all."""
    steps: list[Step] = []

    def done(step: Step) -> None:
        steps.append(step)
        say(step)

    outcome = launcher.up(ctx.workspace, ctx.plan, timeout)
    report = settled(ctx, {CheckId.QUEUE, CheckId.WORKER, CheckId.WATCHDOG, CheckId.MONITOR})
    for check_id, name in ((CheckId.QUEUE, "server check"), (CheckId.WORKER, "worker check")):
        result = report.result(check_id)
        done(Step(name, result.ok, result.line))
    services = outcome.status.services
    down = [
        f"{s.name} ({s.shown_state}: {s.failed or s.detail or 'no detail'})"
        for s in services
        if not s.settled
    ]
    shown = "not running: " + ", ".join(down) if down else f"{len(services)} services up"
    done(Step("core probe", not down, shown))
    done(_command_step("monitoring report", ctx, ["report"], run))
    done(_dashboard_step(ctx, steps[-1].ok))
    return steps, checks.run_all(ctx)


def settled(ctx: HealthContext, wanted: set[CheckId], wait: float = SETTLE) -> HealthReport:
    """The report once the `wanted` checks pass (services just started need a moment for their first
    heartbeat or sample), or after `wait` seconds."""
    deadline = time.monotonic() + wait
    while True:
        report = checks.run_all(ctx)
        if not any(r.id in wanted for r in report.failing) or time.monotonic() > deadline:
            return report
        time.sleep(0.5)


def _command_step(name: str, ctx: HealthContext, args: list[str], run: Runner) -> Step:
    argv = [sys.executable, "-m", "autonomic", *args, "--workspace", str(ctx.workspace.root)]
    try:
        done = run(argv, 120.0)
    except (OSError, subprocess.SubprocessError) as exc:
        return Step(name, False, str(exc))
    lines = (done.stdout or done.stderr or "").strip().splitlines()
    if done.returncode != 0:
        err = (done.stderr or "").strip().splitlines()
        return Step(
            name, False, f"autonomic {' '.join(args)}: {err[-1] if err else f'exit {done.returncode}'}"
        )
    return Step(name, True, lines[-1] if lines else f"autonomic {' '.join(args)}: done")


def _dashboard_step(ctx: HealthContext, report_ran: bool) -> Step:
    """The realtime dashboard files are written by the same report run; this step says whether they
    are there and fresh."""
    started = time.time() - 300.0
    names = ("realtime_summary_latest.json", "dashboard_latest.html")
    fresh = [n for n in names if _mtime(ctx, n) >= started]
    if len(fresh) == len(names):
        return Step("realtime dashboard", True, ", ".join(f"outputs/{n}" for n in names))
    stale = [n for n in names if n not in fresh]
    why = "" if report_ran else " (the report step failed)"
    return Step("realtime dashboard", False, f"not rebuilt: {', '.join(stale)}{why}")


def _mtime(ctx: HealthContext, name: str) -> float:
    try:
        return (ctx.workspace.outputs / name).stat().st_mtime
    except OSError:
        return 0.0
