"""Undo a failed upgrade: back to the previous commit (a reset that refuses to discard local changes),
the previous Python packages and npm trees, the previous config, the affected services restarted on the
old code and checked again; the bad commit is remembered so it is not retried until HEAD moves."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from autonomic import atomic
from autonomic import config as configs
from autonomic.errors import AutonomicError
from autonomic.upgrade import command
from autonomic.upgrade.detect import short
from autonomic.upgrade.interpreter import FreezeDiff, Interpreter, parse_freeze
from autonomic.upgrade.journal import Journal
from autonomic.upgrade.plan import npm_argv
from autonomic.upgrade.repository import Repository
from autonomic.upgrade.settings import UpgradeSettings
from autonomic.upgrade.state import UpgradeState
from autonomic.upgrade.supervision import Supervision
from autonomic.workspace import Workspace


@dataclass
class Attempt:
    """What an upgrade has changed so far: exactly what a rollback has to undo."""

    previous: str
    head: str
    freeze_before: dict[str, str] | None = None
    npm_folders: list[str] = field(default_factory=list)
    config_reloaded: bool = False
    reloaded: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RollbackResult:
    ok: bool  # back on the previous commit, every step done, the services healthy
    summary: str  # one line for the person or the job log


def save_freeze(path: Path, freeze: dict[str, str]) -> None:
    atomic.write_text(path, "\n".join(freeze.values()) + "\n")


def load_freeze(path: Path) -> dict[str, str] | None:
    try:
        return parse_freeze(path.read_text(encoding="utf-8"))
    except OSError:
        return None


_LOG_HINT = "outputs/auto_upgrade_log.jsonl"


class Rollback:
    def __init__(
        self,
        workspace: Workspace,
        repo: Repository,
        settings: UpgradeSettings,
        interpreter: Interpreter,
        journal: Journal,
        supervision: Supervision | None,
    ) -> None:
        self.workspace = workspace
        self.repo = repo
        self.settings = settings
        self.interpreter = interpreter
        self.journal = journal
        self.supervision = supervision

    def run(self, attempt: Attempt, reason: str, state: UpgradeState) -> RollbackResult:
        """Undo `attempt`. The bad commit is recorded whatever happens, so the next check does not try
        it again."""
        bad = short(attempt.head)
        self.journal.event("rollback", bad, "attempting", reason, to_commit=attempt.previous)
        state.mark_bad(attempt.head, reason, attempt.previous, time.time())
        state.pending = None
        state.save(self.workspace.upgrade_state)
        if not self._git(attempt):
            return RollbackResult(
                False,
                f"rollback FAILED: git would not reset (local changes?), the work tree is still on {bad}; "
                f"commit or stash them, then run 'git reset --keep {short(attempt.previous)}'",
            )
        state.applied = attempt.previous
        state.save(self.workspace.upgrade_state)
        results = [
            self._guarded(step, attempt) for step in (self._python, self._npm, self._config, self._restart)
        ]
        ok = all(results)
        if self.supervision is not None:
            with contextlib.suppress(AutonomicError):
                self.journal.system_health(self.supervision.system_health(), "rollback")
        self.journal.event(
            "rollback",
            bad,
            "success" if ok else "failed",
            f"back on {short(attempt.previous)}" + ("" if ok else "; some steps failed (see above)"),
        )
        back = f"rolled back to {short(attempt.previous)}"
        if not ok:
            return RollbackResult(False, f"{back} but not every step worked: see {_LOG_HINT}")
        return RollbackResult(True, f"{back}, healthy" if self.supervision is not None else back)

    def _guarded(self, step: Callable[[Attempt], bool], attempt: Attempt) -> bool:
        """One rollback step; an error in it (the orchestrator went away...) fails it, not the rest."""
        try:
            return step(attempt)
        except AutonomicError as exc:
            self.journal.event("rollback", step.__name__.strip("_"), "failed", str(exc))
            return False

    def _git(self, attempt: Attempt) -> bool:
        started = time.monotonic()
        try:
            self.repo.reset_keep(attempt.previous)
        except AutonomicError as exc:
            self.journal.event("rollback", "git", "failed", str(exc), duration=_since(started))
            return False
        self.journal.event(
            "rollback",
            "git",
            "success",
            f"reset --keep to {short(attempt.previous)}; {short(attempt.head)} is not lost "
            f"('git reset --keep {short(attempt.head)}' returns to it)",
            duration=_since(started),
        )
        return True

    def _python(self, attempt: Attempt) -> bool:
        if attempt.freeze_before is None:
            return True
        started = time.monotonic()
        try:
            diff = FreezeDiff.between(attempt.freeze_before, self.interpreter.freeze())
        except AutonomicError as exc:
            self.journal.event("rollback", "python", "failed", str(exc))
            return False
        ok = True
        extra = [name for name in diff.added if not name.startswith("editable:")]
        if extra:
            ok = self._command("python", self.interpreter.pip("uninstall", "-y", *extra), diff.summary())
        lines = [attempt.freeze_before[n] for n in diff.changed + diff.removed]
        if lines:
            restore = self.workspace.upgrade_dir / "restore-requirements.txt"
            atomic.write_text(restore, "\n".join(lines) + "\n")
            argv = self.interpreter.pip("install", "--no-deps", *self.settings.pip_args, "-r", str(restore))
            ok = self._command("python", argv, f"reinstall {len(lines)} previous version(s)") and ok
        if not extra and not lines:
            self.journal.event(
                "rollback", "python", "success", "no package had changed", duration=_since(started)
            )
        return ok

    def _npm(self, attempt: Attempt) -> bool:
        ok = True
        for folder in attempt.npm_folders:
            full = self.repo.top / folder
            if (full / "package.json").is_file():
                ok = self._command(f"npm:{folder}", npm_argv(full, self.settings), "", cwd=str(full)) and ok
        return ok

    def _config(self, attempt: Attempt) -> bool:
        if not attempt.config_reloaded or self.supervision is None:
            return True
        try:
            plan = configs.plan(configs.load(self.workspace), self.workspace)
            attempt.reloaded = sorted(set(attempt.reloaded) | set(self.supervision.reload(plan)))
        except AutonomicError as exc:
            self.journal.event("rollback", "config", "failed", str(exc))
            return False
        self.journal.event("rollback", "config", "reloaded", "the previous autonomic.toml is back in force")
        return True

    def _restart(self, attempt: Attempt) -> bool:
        if self.supervision is None:
            return True
        running = self.supervision.snapshot()
        restarts: dict[str, int] = {}
        ok = True
        for name in attempt.restarted:
            if name not in running or name in attempt.reloaded:
                continue
            try:
                snap = self.supervision.restart(name)
            except AutonomicError as exc:
                self.journal.event("restart", name, "failed", str(exc), phase="rollback")
                ok = False
                continue
            restarts[name] = int(snap.get("restarts") or 0)
            pid = snap.get("pid")
            shown = f"running as pid {pid}" if pid else f"restart issued ({snap.get('state')})"
            self.journal.event("restart", name, "success", shown, phase="rollback")
        names = [n for n in [*attempt.restarted, *attempt.reloaded] if n in self.supervision.snapshot()]
        if not names:
            return ok
        failures = self.supervision.gate(
            sorted(set(names)), self.settings.health_timeout, self.settings.settle, restarts
        )
        for name in sorted(set(names)):
            status = "failed" if name in failures else "ok"
            self.journal.event("health", name, status, failures.get(name, "running"), phase="rollback")
        return ok and not failures

    def _command(self, target: str, argv: list[str], what: str, cwd: str | None = None) -> bool:
        result = command.run(
            argv,
            cwd or str(self.workspace.root),
            self.settings.step_timeout,
            self.workspace.service_log("upgrade"),
        )
        self.journal.event(
            "rollback",
            target,
            "success" if result.ok else "failed",
            what if result.ok else f"exit code {result.exit_code}: {result.tail}",
            exit_code=result.exit_code,
            duration=round(result.seconds, 3),
        )
        return result.ok


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)
