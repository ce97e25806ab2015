"""`autonomic health --fix`: detect -> fix -> verify, at most three rounds.

Every fix goes through the one owner of what it fixes, so nothing is ever started twice: services
through the orchestrator (or `autonomic up` when none runs, whose lock and adoption make racing callers
end with one of each), the OS entries through `autonomic boot register` / `autonomic backup schedule
register` (only when the config says they should exist), an overdue backup through `autonomic backup
run`, the reports through `autonomic report`, the requirements through pip in the services' interpreter.
What it did is printed and logged to `outputs/health_log.jsonl`."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from autonomic.errors import AutonomicError, NotRunningError
from autonomic.eventlog import EventLog
from autonomic.health import checks, requirements
from autonomic.health.check import CheckId, CheckResult
from autonomic.health.context import HealthContext
from autonomic.health.report import HealthReport
from autonomic.supervisor import launcher

ROUNDS = 3
SETTLE = 45.0  # how long a round waits for what it fixed to pass
# the orchestrator is on it
_BUSY_STATES = frozenset({"starting", "waiting", "backoff", "restarting", "stopping"})


@dataclass(frozen=True)
class Action:
    check: CheckId
    what: str
    ok: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check.value, "what": self.what, "ok": self.ok, "detail": self.detail}


@dataclass
class FixOutcome:
    report: HealthReport
    rounds: int = 0
    actions: list[Action] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.report.to_dict(),
            "rounds": self.rounds,
            "actions": [a.to_dict() for a in self.actions],
        }


Runner = Callable[[list[str], float], "subprocess.CompletedProcess[str]"]


def run_command(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False
    )


class AutoFix:
    def __init__(
        self,
        ctx: HealthContext,
        say: Callable[[str], None] = lambda message: None,
        run: Runner = run_command,
        rounds: int = ROUNDS,
        settle: float = SETTLE,
    ) -> None:
        self.ctx = ctx
        self.say = say
        self.run_command = run
        self.rounds = rounds
        self.settle = settle
        self.events = EventLog(ctx.workspace.health_log)

    def run(self) -> FixOutcome:
        outcome = FixOutcome(checks.run_all(self.ctx))
        self._log_report(outcome.report, "detect")
        while outcome.report.failing and outcome.rounds < self.rounds:
            outcome.rounds += 1
            self.say(f"round {outcome.rounds}: {len(outcome.report.failing)} failing")
            actions = self.fix(outcome.report)
            outcome.actions.extend(actions)
            attempted = {a.check for a in actions if a.ok}
            if not attempted:
                break  # nothing more that can be done: say so rather than loop
            outcome.report = self.verify(attempted)
            self._log_report(outcome.report, f"verify round {outcome.rounds}")
        return outcome

    # --- fix -----------------------------------------------------------------------------------
    def fix(self, report: HealthReport) -> list[Action]:
        failing = {r.id: r for r in report.failing}
        actions: list[Action] = []
        services = [c for c in failing if c.service]
        if services:
            actions.extend(self._fix_services(services))
        for check_id, fixer in self._fixers().items():
            if check_id in failing:
                actions.extend(fixer(failing[check_id]))
        for action in actions:
            self.say(
                f"{'✓' if action.ok else '✗'} {action.what}" + (f": {action.detail}" if action.detail else "")
            )
            self.events.write(
                "fix",
                action.check.value,
                "success" if action.ok else "failed",
                action.what,
                detail=action.detail,
            )
        return actions

    def _fixers(self) -> dict[CheckId, Callable[[CheckResult], list[Action]]]:
        return {
            CheckId.BOOT: self._fix_boot,
            CheckId.BACKUP: self._fix_backup,
            CheckId.VENV: self._fix_venv,
            CheckId.OUTPUTS: self._fix_outputs,
        }

    def _fix_services(self, failing: list[CheckId]) -> list[Action]:
        workspace = self.ctx.workspace
        try:
            control = launcher.client(workspace)
        except NotRunningError:
            return self._up(failing, "no orchestrator was running")
        except AutonomicError as exc:
            return [
                Action(c, "ask the orchestrator", False, f"{exc}; the watchdog revives a hung one")
                for c in failing
            ]
        try:
            states = {s["name"]: s["state"] for s in control.request("status", timeout=10.0)["services"]}
        except AutonomicError as exc:
            return [Action(c, "read the orchestrator's status", False, str(exc)) for c in failing]
        if any(str(c.service) not in states for c in failing):
            return self._up(failing, "the orchestrator's plan lacks a core service")
        actions = []
        for check_id in failing:
            name, state = str(check_id.service), states[str(check_id.service)]
            if state in _BUSY_STATES:
                actions.append(
                    Action(check_id, f"{name} is {state}: the orchestrator is restarting it", True)
                )
                continue
            command = "restart" if state == "running" else "start"
            try:
                snapshot = control.request(command, timeout=120.0, service=name)["service"]
                actions.append(
                    Action(
                        check_id,
                        f"{command} {name} through the orchestrator",
                        True,
                        f"now {snapshot['state']}",
                    )
                )
            except AutonomicError as exc:
                actions.append(
                    Action(check_id, f"{command} {name} through the orchestrator", False, str(exc))
                )
        return actions

    def _up(self, failing: list[CheckId], why: str) -> list[Action]:
        try:
            outcome = launcher.up(self.ctx.workspace, self.ctx.plan, timeout=120.0)
        except AutonomicError as exc:
            return [Action(c, f"autonomic up ({why})", False, str(exc)) for c in failing]
        stuck = {s.name: s.failed or s.shown_state for s in [*outcome.failed, *outcome.pending]}
        return [
            Action(c, f"autonomic up ({why})", str(c.service) not in stuck, stuck.get(str(c.service), ""))
            for c in failing
        ]

    def _fix_boot(self, result: CheckResult) -> list[Action]:
        if not self.ctx.boot_wanted:
            return [Action(CheckId.BOOT, "left alone: [boot] enabled = false", False)]
        return [self._autonomic(CheckId.BOOT, ["boot", "register"], 60.0)]

    def _fix_backup(self, result: CheckResult) -> list[Action]:
        if not self.ctx.schedule_wanted:
            return [Action(CheckId.BACKUP, "left alone: [backup] schedule = false", False)]
        actions = []
        if not result.facts.get("scheduled"):
            actions.append(self._autonomic(CheckId.BACKUP, ["backup", "schedule", "register"], 60.0))
        age = result.facts.get("last_good_age")
        if "last_good_age" in result.facts and (age is None or float(age) > checks.BACKUP_MAX_AGE):
            actions.append(self._autonomic(CheckId.BACKUP, ["backup", "run"], 1800.0))
        return actions

    def _fix_outputs(self, result: CheckResult) -> list[Action]:
        return [self._autonomic(CheckId.OUTPUTS, ["report"], 120.0)]

    def _fix_venv(self, result: CheckResult) -> list[Action]:
        interpreter = self.ctx.interpreter
        wanted = requirements.declared(self.ctx.workspace.root)
        try:
            installed = requirements.Installed.of(interpreter, timeout=30.0)
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            return [Action(CheckId.VENV, f"read what {interpreter} has", False, str(exc))]
        missing = [d for d in wanted if not installed.satisfies(d.requirement)]
        pip = [interpreter, "-m", "pip", "install", "--disable-pip-version-check"]
        argv_list = [[*pip, "-r", str(path)] for path in requirements.files_declaring(missing)]
        loose = [str(d) for d in missing if d.source.suffix != ".txt"]
        if loose:
            argv_list.append([*pip, *loose])
        return [self._command(CheckId.VENV, argv, 900.0) for argv in argv_list]

    def _autonomic(self, check_id: CheckId, args: list[str], timeout: float) -> Action:
        argv = [sys.executable, "-m", "autonomic", *args, "--workspace", str(self.ctx.workspace.root)]
        return self._command(check_id, argv, timeout, shown=f"autonomic {' '.join(args)}")

    def _command(self, check_id: CheckId, argv: list[str], timeout: float, shown: str = "") -> Action:
        what = shown or " ".join(argv)
        try:
            done = self.run_command(argv, timeout)
        except (OSError, subprocess.SubprocessError) as exc:
            return Action(check_id, what, False, str(exc))
        output = (done.stderr or done.stdout or "").strip().splitlines()
        if done.returncode != 0:
            return Action(
                check_id, what, False, f"exit {done.returncode}: {output[-1] if output else 'no output'}"
            )
        return Action(check_id, what, True)

    # --- verify --------------------------------------------------------------------------------
    def verify(self, attempted: set[CheckId]) -> HealthReport:
        """Look again until what was fixed passes, or `settle` seconds pass."""
        deadline = time.monotonic() + self.settle
        while True:
            report = checks.run_all(self.ctx)
            if not any(r.id in attempted for r in report.failing) or time.monotonic() > deadline:
                return report
            time.sleep(1.0)

    def _log_report(self, report: HealthReport, phase: str) -> None:
        for result in report.failing:
            self.events.write("check", result.id.value, "down", result.line, phase=phase)
        status = "ok" if not report.failing else "failed"
        self.events.write(
            "check", "all", status, f"{report.passed}/{report.total} checks passed", phase=phase
        )
