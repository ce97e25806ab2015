"""Run an upgrade: under a lock, detect, plan, apply each step checking its exit code, restart only
what changed through the orchestrator, gate on health, and roll back when anything fails."""

from __future__ import annotations

import contextlib
import time
import tomllib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from autonomic import config as configs
from autonomic.errors import AutonomicError, ConfigError
from autonomic.eventlog import EventLog
from autonomic.platform.lock import ProcessLock
from autonomic.upgrade import hooks
from autonomic.upgrade import plan as plans
from autonomic.upgrade.detect import Detection, Verdict, detect, short
from autonomic.upgrade.errors import UpgradeBusy, UpgradeError, UpgradeRefused
from autonomic.upgrade.interpreter import FreezeDiff, Interpreter
from autonomic.upgrade.journal import Journal, Progress
from autonomic.upgrade.repository import Repository
from autonomic.upgrade.rollback import Attempt, Rollback, load_freeze
from autonomic.upgrade.settings import UpgradeSettings
from autonomic.upgrade.state import Pending, UpgradeState
from autonomic.upgrade.steps import Installer
from autonomic.upgrade.supervision import Supervision
from autonomic.workspace import Workspace

_RECHECKS = 3
_SETTLED = frozenset({"success", "applied", "up_to_date", "first_run", "lost", "known_bad"})


class Mode(StrEnum):
    APPLY = "apply"  # `autonomic upgrade`: a person asked
    CHECK = "check"  # `autonomic upgrade check`: a hook or the periodic job
    AT_START = "at-start"  # the orchestrator's start, before any service runs: nothing to restart yet
    DRY_RUN = "dry-run"  # print the plan, change nothing


@dataclass(frozen=True)
class Outcome:
    verdict: str
    message: str
    plan: plans.UpgradePlan | None = None
    head: str | None = None  # the commit this outcome is about


class Upgrader:
    def __init__(self, workspace: Workspace, progress: Progress | None = None) -> None:
        self.workspace = workspace
        self.journal = Journal(EventLog(workspace.upgrade_log), progress)

    def run(self, mode: Mode, pull: bool = False, retry: bool = False) -> Outcome:
        repo = Repository.find(self.workspace.root)
        if repo is None:
            message = f"{self.workspace.root} is not in a git repository: nothing to upgrade"
            if mode is Mode.APPLY or pull:
                raise UpgradeRefused(message)
            return Outcome("not_a_repo", message)
        self.repo = repo
        self.settings = _settings(self.workspace, repo)
        if mode in (Mode.CHECK, Mode.AT_START) and not self.settings.enabled:
            return Outcome("disabled", "upgrade checks are off ([upgrade] enabled = false)")
        self.interpreter = Interpreter.for_workspace(self.workspace, self.settings.python)
        if mode is Mode.DRY_RUN:
            return self._dry_run(retry)
        lock = ProcessLock(self.workspace.upgrade_lock)
        self.workspace.ensure_dirs()
        if not lock.acquire():
            message = f"an upgrade is already running{_holder(self.workspace)}; not starting another"
            if mode is Mode.APPLY:
                raise UpgradeBusy(message)
            return Outcome("busy", message + " (it looks at HEAD again before it ends)")
        try:
            outcome = self._locked(mode, pull, retry)
            for _ in range(_RECHECKS):  # HEAD moved while we worked (a pull whose hook found us busy)
                if self.repo.head() in (outcome.head, None) or outcome.verdict not in _SETTLED:
                    break
                outcome = self._locked(mode, False, retry)
            return outcome
        finally:
            lock.release()

    # --- the run ---------------------------------------------------------------------------------
    def _locked(self, mode: Mode, pull: bool, retry: bool) -> Outcome:
        if pull:
            self._pull()
        if busy := self.repo.operation_in_progress():
            return Outcome("busy", f"a git {busy} is in progress; checking again once it is done")
        state = UpgradeState.load(self.workspace.upgrade_state)
        if state.pending is not None and mode is not Mode.AT_START:
            self._verify_pending(state)
        found = detect(self.repo, state, retry)
        if found.verdict is Verdict.NEW:
            return self._apply(state, found, mode)
        if found.verdict in (Verdict.FIRST_RUN, Verdict.LOST):
            state.applied, state.applied_at = found.head, time.time()
            state.save(self.workspace.upgrade_state)
            self.journal.event("detect", found.head_short, found.verdict.value, found.note, commit=found.head)
        elif found.verdict is Verdict.KNOWN_BAD and found.head != state.seen:
            self.journal.event("detect", found.head_short, "skipped", found.note, commit=found.head)
        if found.head != state.seen:
            state.seen = found.head
            state.save(self.workspace.upgrade_state)
        return Outcome(found.verdict.value, found.note, head=found.head)

    def _pull(self) -> None:
        started = time.monotonic()
        before, after = self.repo.pull_fast_forward()
        detail = f"{short(before)} -> {short(after)}" if before != after else "already up to date"
        self.journal.event("pull", "git", "success", detail, duration=_since(started))

    def _dry_run(self, retry: bool) -> Outcome:
        state = UpgradeState.load(self.workspace.upgrade_state)
        found = detect(self.repo, state, retry)
        if found.verdict is not Verdict.NEW or found.head is None or found.applied is None:
            note = (
                found.note.replace("recorded", "would record")
                if found.verdict is Verdict.FIRST_RUN
                else found.note
            )
            return Outcome(found.verdict.value, note)
        plan = self._plan(found)
        return Outcome(
            "planned", f"dry run: {short(found.applied)} -> {found.head_short}; nothing changed", plan
        )

    def _plan(self, found: Detection) -> plans.UpgradePlan:
        assert found.head is not None and found.applied is not None
        return plans.build(
            self.workspace,
            self.repo,
            found.applied,
            found.head,
            found.changes,
            self.settings,
            self.interpreter,
        )

    def _apply(self, state: UpgradeState, found: Detection, mode: Mode) -> Outcome:
        started = time.monotonic()
        plan = self._plan(found)
        attempt = Attempt(previous=plan.previous, head=plan.head)
        self.journal.event(
            "upgrade",
            found.head_short,
            "started",
            f"{short(plan.previous)} -> {found.head_short}, {len(plan.changes)} path(s) changed",
            from_commit=plan.previous,
            to_commit=plan.head,
        )
        for line in plan.describe():
            self.journal.say("info", f"  plan: {line}")
        supervision = None if mode is Mode.AT_START else Supervision.connect(self.workspace)
        rollback = Rollback(
            self.workspace, self.repo, self.settings, self.interpreter, self.journal, supervision
        )
        if plan.config_error and not plan.config_changed:  # a local edit broke it, not this commit
            self.journal.event("config", "autonomic.toml", "refused", plan.config_error, local=True)
            raise UpgradeRefused(
                f"{plan.config_error} (a change in the work tree, not in {found.head_short}); fix it first"
            )
        if plan.config_error:
            self.journal.event("config", "autonomic.toml", "refused", plan.config_error)
            result = rollback.run(attempt, f"autonomic.toml refused: {plan.config_error}", state)
            raise UpgradeRefused(f"{found.head_short}: {plan.config_error}; refused, {result.summary}")
        if plan.config_changed:
            self.journal.event("config", "autonomic.toml", "valid", "checked before anything else")
        failure = Installer(self.workspace, self.repo, self.settings, self.interpreter, self.journal).run(
            plan, attempt
        )
        if failure is None and supervision is not None:
            try:
                failure = self._restart_and_gate(plan, attempt, supervision)
            except AutonomicError as exc:  # the orchestrator refused or went away mid-way
                failure = f"orchestrator: {exc}"
                self.journal.event("restart", "orchestrator", "failed", str(exc))
        if failure is not None:
            result = rollback.run(attempt, failure, state)
            self.journal.event("upgrade", found.head_short, "rolled_back", failure, duration=_since(started))
            raise UpgradeError(f"upgrade to {found.head_short} failed ({failure}); {result.summary}")
        return self._done(state, plan, attempt, supervision, started)

    def _done(
        self,
        state: UpgradeState,
        plan: plans.UpgradePlan,
        attempt: Attempt,
        supervision: Supervision | None,
        started: float,
    ) -> Outcome:
        state.applied, state.applied_at, state.seen, state.pending = plan.head, time.time(), plan.head, None
        if supervision is None:
            state.pending = Pending(
                commit=plan.head,
                previous=plan.previous,
                services=sorted(
                    set(plan.restarts) | set(plan.python_services if attempt.freeze_before else [])
                ),
                python_changed=attempt.freeze_before is not None,
                npm_folders=attempt.npm_folders,
                config_changed=plan.config_changed,
                at=time.time(),
            )
        state.save(self.workspace.upgrade_state)
        verdict = "applied" if supervision is None else "success"
        detail = (
            "services not running yet: their health is verified once they run"
            if supervision is None
            else f"restarted: {', '.join(attempt.restarted + attempt.reloaded) or 'nothing'}"
        )
        self.journal.event("upgrade", short(plan.head), verdict, detail, duration=_since(started))
        if supervision is not None:
            self.journal.system_health(supervision.system_health(), "upgrade")
        return Outcome(
            verdict, f"upgraded {short(plan.previous)} -> {short(plan.head)}: {detail}", plan, plan.head
        )

    def _restart_and_gate(
        self, plan: plans.UpgradePlan, attempt: Attempt, supervision: Supervision
    ) -> str | None:
        if plan.config_changed:
            new_plan = configs.plan(configs.load(self.workspace), self.workspace)
            attempt.config_reloaded = True
            attempt.reloaded = supervision.reload(new_plan)
            self.journal.event(
                "config", "autonomic.toml", "reloaded", f"(re)started: {attempt.reloaded or 'none'}"
            )
        wanted = dict(plan.restarts)
        if attempt.freeze_before is not None:
            diff = FreezeDiff.between(attempt.freeze_before, self.interpreter.freeze())
            self.journal.event(
                "upgrade", "python", "success", diff.summary(), added=diff.added, changed=diff.changed
            )
            if diff.touches_running_code:
                for name in plan.python_services:
                    wanted.setdefault(
                        name, f"installed packages changed ({', '.join(diff.changed + diff.removed)})"
                    )
        running = supervision.snapshot()
        restarts = {name: 0 for name in attempt.reloaded}  # (re)created by the reload: a fresh count
        for name in [n for n in plan.restarts_order(wanted) if n in running and n not in attempt.reloaded]:
            self.journal.event("restart", name, "attempting", wanted[name], pid=running[name].get("pid"))
            attempt.restarted.append(name)
            try:
                snap = supervision.restart(name)
            except AutonomicError as exc:
                self.journal.event("restart", name, "failed", str(exc))
                return f"restart of {name} failed: {exc}"
            restarts[name] = int(snap.get("restarts") or 0)
            self.journal.event("restart", name, "success", _started(snap), pid=snap.get("pid"))
        failure = self._gate(supervision, attempt, restarts)
        if failure is None and plan.self_upgrade:
            pid = hooks.start_detached(self.workspace, "restart-orchestrator")
            self.journal.event(
                "restart", "orchestrator", "attempting", f"autonomic changed; helper pid {pid}"
            )
        return failure

    def _gate(self, supervision: Supervision, attempt: Attempt, restarts: dict[str, int]) -> str | None:
        current = supervision.snapshot()
        names = [n for n in attempt.restarted + attempt.reloaded if n in current]
        if not names:
            return None
        started = time.monotonic()
        failures = supervision.gate(names, self.settings.health_timeout, self.settings.settle, restarts)
        for name in names:
            status = "failed" if name in failures else "ok"
            self.journal.event(
                "health", name, status, failures.get(name, "running"), duration=_since(started)
            )
        if failures:
            return "health: " + "; ".join(f"{n} {why}" for n, why in failures.items())
        return None

    # --- an upgrade applied at start, verified once the services run ------------------------------
    def _verify_pending(self, state: UpgradeState) -> None:
        pending = state.pending
        assert pending is not None
        if self.repo.head() != pending.commit:
            state.pending = None  # HEAD moved on: the next upgrade is gated from here
            state.save(self.workspace.upgrade_state)
            return
        supervision = Supervision.connect(self.workspace)
        if supervision is None:
            return
        names = [n for n in pending.services if n in supervision.snapshot()]
        failures = (
            supervision.gate(names, self.settings.health_timeout, self.settings.settle) if names else {}
        )
        if not failures:
            state.pending = None
            state.save(self.workspace.upgrade_state)
            self.journal.event(
                "health", short(pending.commit), "verified", f"checked: {', '.join(names) or 'none'}"
            )
            self.journal.system_health(supervision.system_health(), "verify")
            return
        for name, why in failures.items():
            self.journal.event("health", name, "failed", why)
        attempt = Attempt(
            previous=pending.previous,
            head=pending.commit,
            freeze_before=load_freeze(self.workspace.upgrade_dir / "freeze-before.txt")
            if pending.python_changed
            else None,
            npm_folders=pending.npm_folders,
            config_reloaded=pending.config_changed,
            restarted=names,
        )
        reason = "health after start: " + "; ".join(f"{n} {w}" for n, w in failures.items())
        rollback = Rollback(
            self.workspace, self.repo, self.settings, self.interpreter, self.journal, supervision
        )
        result = rollback.run(attempt, reason, state)
        raise UpgradeError(f"{short(pending.commit)} failed after start ({reason}); {result.summary}")


def _settings(workspace: Workspace, repo: Repository) -> UpgradeSettings:
    """`[upgrade]` from the config in the work tree; if that one is broken, from the applied commit's."""
    try:
        return configs.load(workspace).upgrade
    except ConfigError:
        pass
    with contextlib.suppress(AutonomicError, ValueError, UnicodeDecodeError):
        state = UpgradeState.load(workspace.upgrade_state)
        old = repo.show(state.applied, repo.relative(workspace.config_file)) if state.applied else None
        if old is not None:
            return configs.parse(tomllib.loads(old.decode("utf-8"))).upgrade
    return UpgradeSettings()


def _started(snapshot: dict[str, Any]) -> str:
    pid = snapshot.get("pid")
    return f"running as pid {pid}" if pid else f"restart issued ({snapshot.get('state')})"


def _holder(workspace: Workspace) -> str:
    try:
        pid = workspace.upgrade_lock.read_text(encoding="utf-8").strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)
