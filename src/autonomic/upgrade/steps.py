"""The install steps of an upgrade, in plan order: pip and npm commands with their exit codes checked
and logged, new scripts made executable. The installed Python set is saved first, for a rollback."""

from __future__ import annotations

import os

from autonomic.errors import AutonomicError
from autonomic.upgrade import command
from autonomic.upgrade import plan as plans
from autonomic.upgrade.interpreter import Interpreter
from autonomic.upgrade.journal import Journal
from autonomic.upgrade.repository import Repository
from autonomic.upgrade.rollback import Attempt, save_freeze
from autonomic.upgrade.settings import UpgradeSettings
from autonomic.workspace import Workspace


class Installer:
    def __init__(
        self,
        workspace: Workspace,
        repo: Repository,
        settings: UpgradeSettings,
        interpreter: Interpreter,
        journal: Journal,
    ) -> None:
        self.workspace = workspace
        self.repo = repo
        self.settings = settings
        self.interpreter = interpreter
        self.journal = journal

    def run(self, plan: plans.UpgradePlan, attempt: Attempt) -> str | None:
        """Every install / permission step in order; the first failure's description, or None."""
        scripts = [s.target for s in plan.steps if s.kind is plans.StepKind.PERMISSIONS]
        if scripts:
            self.journal.event("detect", "new_scripts", "found", ", ".join(scripts), paths=scripts)
        if plan.pip_steps:
            try:
                attempt.freeze_before = self.interpreter.freeze()
            except AutonomicError as exc:
                self.journal.event("upgrade", "python", "failed", str(exc))
                return str(exc)
            save_freeze(self.workspace.upgrade_dir / "freeze-before.txt", attempt.freeze_before)
        for step in plan.steps:
            if step.kind is plans.StepKind.NPM:
                attempt.npm_folders.append(str(os.path.relpath(step.cwd, self.repo.top)))
            failure = self._step(step)
            if failure is not None:
                return failure
        return None

    def _step(self, step: plans.Step) -> str | None:
        if step.kind is plans.StepKind.PERMISSIONS:
            return self._chmod(step.target)
        result = command.run(
            step.argv, step.cwd, self.settings.step_timeout, self.workspace.service_log("upgrade")
        )
        self.journal.event(
            "upgrade",
            step.target,
            "success" if result.ok else "failed",
            step.describe() + ("" if result.ok else f": {result.tail}"),
            step=step.kind.value,
            command=step.argv,
            exit_code=result.exit_code,
            duration=round(result.seconds, 3),
        )
        if result.ok or step.kind is plans.StepKind.VSCODE:  # the tasks file is a convenience, not a gate
            return None
        return f"{step.target}: {step.kind.value} exited with code {result.exit_code}"

    def _chmod(self, target: str) -> str | None:
        path = self.repo.top / target
        try:
            mode = path.stat().st_mode
            os.chmod(path, mode | ((mode & 0o444) >> 2))  # +x wherever it is readable
        except OSError as exc:
            self.journal.event("permissions", target, "failed", str(exc))
            return f"{target}: chmod failed: {exc.strerror}"
        self.journal.event("permissions", target, "success", f"mode {oct(path.stat().st_mode & 0o777)}")
        return None
