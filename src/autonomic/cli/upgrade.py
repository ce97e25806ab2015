"""`autonomic upgrade [--dry-run] [--pull] [--retry]`, `upgrade check`, `upgrade install-hooks`,
`upgrade uninstall-hooks`, `upgrade status`: thin wrappers over `autonomic.upgrade`."""

from __future__ import annotations

from pathlib import Path

import typer

from autonomic.cli import render
from autonomic.cli.options import JsonOption, WorkspaceOption, find_workspace
from autonomic.errors import UsageError
from autonomic.upgrade import hooks
from autonomic.upgrade import supervision as upgrade_supervision
from autonomic.upgrade.apply import Mode, Outcome, Upgrader
from autonomic.upgrade.state import UpgradeState

app = typer.Typer(
    name="upgrade",
    help="Apply a new commit: install dependencies, restart what changed, roll back if it breaks things.",
    no_args_is_help=False,
)

_SHOW = {"ok": render.success, "error": render.warn, "warn": render.warn, "info": render.info}


def _progress(level: str, text: str) -> None:
    _SHOW.get(level, render.info)(text)


@app.callback(invoke_without_command=True)
def upgrade(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan; change nothing."),
    pull: bool = typer.Option(
        False, "--pull", help="First fetch and fast-forward (refused if dirty/diverged)."
    ),
    retry: bool = typer.Option(False, "--retry", help="Try again a commit that was rolled back before."),
    workspace_dir: Path | None = WorkspaceOption,
) -> None:
    """Detect a new commit and apply it (dependencies, permissions, config, restarts), gated on health."""
    if ctx.invoked_subcommand is not None:
        if dry_run or pull or retry:
            raise UsageError(
                f"--dry-run, --pull and --retry go with 'autonomic upgrade', not '{ctx.invoked_subcommand}'"
            )
        return
    if dry_run and pull:
        raise UsageError("--pull changes the work tree and --dry-run changes nothing: use one of them")
    workspace = find_workspace(workspace_dir)
    mode = Mode.DRY_RUN if dry_run else Mode.APPLY
    outcome = Upgrader(workspace, None if dry_run else _progress).run(mode, pull=pull, retry=retry)
    _print(outcome)


@app.command()
def check(
    at_start: bool = typer.Option(
        False, "--at-start", help="The orchestrator is starting: install, but restart nothing yet."
    ),
    background: bool = typer.Option(False, "--background", help="Run detached (what the git hooks use)."),
    workspace_dir: Path | None = WorkspaceOption,
) -> None:
    """Detect and apply if needed: what the git hooks and the orchestrator's jobs run."""
    workspace = find_workspace(workspace_dir)
    if background:
        pid = hooks.start_detached(workspace)
        render.info(f"autonomic: upgrade check started (pid {pid}); see outputs/auto_upgrade_log.jsonl")
        return
    outcome = Upgrader(workspace, _progress).run(Mode.AT_START if at_start else Mode.CHECK)
    _print(outcome)


@app.command("restart-orchestrator", hidden=True)
def restart_orchestrator(workspace_dir: Path | None = WorkspaceOption) -> None:
    """Replace the orchestrator process (after autonomic itself was upgraded); services keep running."""
    workspace = find_workspace(workspace_dir)
    old, new = upgrade_supervision.restart_orchestrator(workspace)
    render.success(f"orchestrator restarted: pid {old} -> {new}; services adopted, not restarted")


@app.command("install-hooks")
def install_hooks(workspace_dir: Path | None = WorkspaceOption) -> None:
    """Install post-merge, post-checkout and post-rewrite hooks (your own hooks keep running first)."""
    report = hooks.install(find_workspace(workspace_dir))
    for path in report.chained:
        render.info(f"kept your hook as {path.name}; it runs first")
    render.success(
        f"installed: {', '.join(p.name for p in report.installed)} in {report.installed[0].parent}"
    )


@app.command("uninstall-hooks")
def uninstall_hooks(workspace_dir: Path | None = WorkspaceOption) -> None:
    """Remove our git hooks and put back the ones they chained to."""
    report = hooks.uninstall(find_workspace(workspace_dir))
    for path in report.restored:
        render.info(f"restored your {path.name}")
    render.success(
        f"removed: {', '.join(p.name for p in report.removed)}" if report.removed else "no hooks of ours"
    )


@app.command()
def status(json_output: bool = JsonOption, workspace_dir: Path | None = WorkspaceOption) -> None:
    """The applied commit, any commit rolled back as bad, an unverified upgrade, the hooks in place."""
    workspace = find_workspace(workspace_dir)
    state = UpgradeState.load(workspace.upgrade_state)
    hook_names = hooks.installed(workspace)
    summary = {
        "applied": state.applied,
        "applied_at": state.applied_at,
        "bad": state.bad,
        "pending": state.pending.commit if state.pending else None,
        "hooks": hook_names,
    }
    if json_output:
        render.as_json(summary)
        return
    render.info(f"applied commit: {state.applied or 'none yet (the first check records HEAD)'}")
    for commit, why in state.bad.items():
        render.warn(f"rolled back: {commit[:10]} ({why.get('reason', '')})")
    if state.pending:
        render.warn(f"applied at start, health not verified yet: {state.pending.commit[:10]}")
    render.info(f"git hooks: {', '.join(hook_names) or 'none (autonomic upgrade install-hooks)'}")


def _print(outcome: Outcome) -> None:
    if outcome.plan is not None and outcome.verdict == "planned":
        for line in outcome.plan.describe():
            render.info(f"  {line}")
    (render.success if outcome.verdict in ("success", "applied") else render.info)(outcome.message)


def register(root: typer.Typer) -> None:
    """Mount `autonomic upgrade ...` on the root app."""
    root.add_typer(app)
