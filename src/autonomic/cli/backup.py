"""`autonomic backup run | list | verify | restore | prune | status` (and `schedule`, E6's sub-app)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from autonomic import config
from autonomic.backup.sources import Section, queue_database
from autonomic.cli import render
from autonomic.cli.options import JsonOption, WorkspaceOption, find_workspace
from autonomic.errors import UsageError

if TYPE_CHECKING:  # the rest of the backup package loads only when a backup command runs
    from autonomic.backup.runner import Backups, RestoreRequest

backup_app = typer.Typer(
    help="Daily snapshots: run, list, verify, restore, prune, status.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    from autonomic.cli.schedule import schedule_app

    backup_app.add_typer(schedule_app, name="schedule")
    app.add_typer(backup_app, name="backup")


def _backups(workspace_dir: Path | None) -> tuple[Backups, config.Config]:
    from autonomic.backup.runner import Backups

    workspace = find_workspace(workspace_dir)
    settings = config.load(workspace)
    queue_db = queue_database(workspace, settings.queue.store)
    return Backups(workspace, settings.backup, queue_db), settings


@backup_app.command("run")
def run(
    if_overdue: bool = typer.Option(
        False, "--if-overdue", help="Only if the newest good snapshot is older than 24 h."
    ),
    json_output: bool = JsonOption,
    workspace_dir: Path | None = WorkspaceOption,
) -> None:
    """Take a snapshot now (configs, outputs, recent logs, queue state, git state), then prune."""
    backups, _ = _backups(workspace_dir)
    with render.progress_bar("backing up") as update:
        outcome = backups.run("overdue" if if_overdue else "manual", if_overdue, update)
    manifest = outcome.manifest
    if json_output:
        render.as_json(
            {
                "snapshot": str(outcome.snapshot) if outcome.snapshot else None,
                "not_due": outcome.not_due or None,
                "manifest": manifest.summary() if manifest else None,
                "seconds": outcome.seconds,
                "pruned": outcome.pruned,
            }
        )
        return
    if manifest is None:
        render.info(outcome.not_due)
        return
    render.success(
        f"snapshot {manifest.id}: {len(manifest.files)} files, {_size(manifest.total_bytes)} "
        f"({_size(manifest.new_bytes)} new) in {outcome.seconds:.2f}s -> {outcome.snapshot}"
    )
    for item in manifest.skipped:
        render.warn(f"  skipped {item.source}: {item.reason}")
    if outcome.pruned:
        render.info(f"pruned {len(outcome.pruned)}: {', '.join(outcome.pruned)}")


@backup_app.command("list")
def list_snapshots(json_output: bool = JsonOption, workspace_dir: Path | None = WorkspaceOption) -> None:
    """Every snapshot, oldest first, with its state and size."""
    from autonomic.backup.catalog import snapshots

    backups, _ = _backups(workspace_dir)
    found = snapshots(backups.target)
    if json_output:
        render.as_json(
            [
                {
                    "id": s.id,
                    "path": str(s.path),
                    "state": s.state.value,
                    "created": s.created,
                    "bytes": s.size,
                }
                for s in found
            ]
        )
        return
    if not found:
        render.info(f"no snapshots in {backups.target} (run 'autonomic backup run')")
        return
    rows = [
        (
            s.id,
            s.state.value,
            len(s.manifest.files) if s.manifest else None,
            _size(s.size),
            _size(s.new_bytes),
            s.manifest.reason if s.manifest else None,
        )
        for s in found
    ]
    render.table(("snapshot", "state", "files", "size", "new", "reason"), rows, title=str(backups.target))


@backup_app.command("verify")
def verify(
    snapshot_id: str | None = typer.Argument(
        None, metavar="[ID]", help="One snapshot (default: all of them)."
    ),
    json_output: bool = JsonOption,
    workspace_dir: Path | None = WorkspaceOption,
) -> None:
    """Recompute every checksum against the manifest; exit 1 if any snapshot is damaged."""
    backups, _ = _backups(workspace_dir)
    with render.progress_bar("verifying") as update:
        results = backups.verify(snapshot_id, update)
    if json_output:
        render.as_json(
            [
                {
                    "snapshot": r.snapshot,
                    "ok": r.ok,
                    "checked": r.checked,
                    "problems": [str(p) for p in r.problems],
                }
                for r in results
            ]
        )
    else:
        for result in results:
            if result.ok:
                render.success(f"{result.snapshot}: ok ({result.checked} files, {_size(result.bytes)})")
            else:
                render.error_line(f"{result.snapshot}: {len(result.problems)} problem(s)")
                for problem in result.problems[:20]:
                    render.warn(f"  {problem}")
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@backup_app.command("restore")
def restore(
    snapshot_id: str = typer.Argument(
        ..., metavar="ID", help="The snapshot (see 'backup list'), or 'latest'."
    ),
    only: list[Section] | None = typer.Option(None, "--only", help="Restore only these parts (repeatable)."),
    to: Path | None = typer.Option(None, "--to", help="Restore into this folder instead of the workspace."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be restored; change nothing."),
    force: bool = typer.Option(False, "--force", help="Also overwrite files changed since the snapshot."),
    stop_queue: bool = typer.Option(
        False, "--stop-queue", help="Stop the queue server for the database restore (and start it again)."
    ),
    json_output: bool = JsonOption,
    workspace_dir: Path | None = WorkspaceOption,
) -> None:
    """Put a snapshot's files back; takes a safety snapshot of the present state first."""
    from autonomic.backup.queuegate import OrchestratedQueue
    from autonomic.backup.runner import RestoreRequest

    backups, settings = _backups(workspace_dir)
    if to is not None and to.exists() and not to.is_dir():
        raise UsageError(f"--to {to}: not a folder")
    queue = OrchestratedQueue(backups.workspace, settings.queue.port if settings.queue.enabled else None)
    request = RestoreRequest(snapshot_id, set(only or list(Section)), to, dry_run, force, stop_queue, queue)
    if to is not None:
        request.queue = None  # another folder's database is nobody's live queue
    if not dry_run and request.queue is not None and not stop_queue:
        request.stop_queue = _offer_to_stop(backups, request)
    outcome = backups.restore(request)
    plan = outcome.plan
    if json_output:
        render.as_json(
            {
                "snapshot": plan.snapshot.id,
                "into": str(plan.into),
                "dry_run": dry_run,
                "items": [{"file": str(i.dest), "action": i.action.value} for i in plan.items],
                "skipped": plan.skipped,
                "written": [str(i.dest) for i in outcome.written],
                "safety_snapshot": str(outcome.safety) if outcome.safety else None,
                "queue_blocker": outcome.queue_blocker or None,
            }
        )
        return
    if dry_run:
        render.table(
            ("action", "file"),
            ((i.action.value, i.dest) for i in plan.items),
            title=f"restore {plan.snapshot.id} (dry run)",
        )
        for line in plan.skipped:
            render.warn(f"  not restored: {line}")
        if outcome.queue_blocker:
            render.warn(f"the queue database needs the queue server stopped: {outcome.queue_blocker}")
        return
    if outcome.safety:
        render.info(f"safety snapshot of the present state: {outcome.safety}")
    if outcome.written:
        render.success(f"restored {len(outcome.written)} file(s) from {plan.snapshot.id} into {plan.into}")
    else:
        render.success(
            f"nothing to restore: the {len(plan.items)} chosen file(s) already match {plan.snapshot.id}"
        )
    patch = plan.snapshot.path / "git_uncommitted.patch"
    if patch.is_file() and patch.stat().st_size:
        render.info(f"uncommitted work of that day (not applied): git apply {patch}")


def _offer_to_stop(backups: Backups, request: RestoreRequest) -> bool:
    """Ask (on a terminal) whether to stop the running queue server for the database restore."""
    from autonomic.backup.runner import RestoreRequest

    if not sys.stdin.isatty():
        return False
    dry = RestoreRequest(request.snapshot_id, request.only, request.to, dry_run=True, queue=request.queue)
    probe = backups.restore(dry)
    if not probe.queue_blocker:
        return False
    return typer.confirm(f"{probe.queue_blocker}; stop it for the restore and start it again afterwards?")


@backup_app.command("prune")
def prune(
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be deleted; delete nothing."),
    json_output: bool = JsonOption,
    workspace_dir: Path | None = WorkspaceOption,
) -> None:
    """Apply the retention policy (backup.keep_days, keep_daily, keep_weekly in autonomic.toml)."""
    backups, _ = _backups(workspace_dir)
    decisions = backups.prune(dry_run)
    if json_output:
        render.as_json([{"snapshot": d.snapshot.id, "keep": d.keep, "reasons": d.reasons} for d in decisions])
        return
    doomed = [d.snapshot.id for d in decisions if not d.keep]
    verb = "would delete" if dry_run else "deleted"
    listed = f": {', '.join(doomed)}" if doomed else ""
    render.info(f"{verb} {len(doomed)} snapshot(s){listed}; kept {len(decisions) - len(doomed)}")


@backup_app.command("status")
def status(json_output: bool = JsonOption, workspace_dir: Path | None = WorkspaceOption) -> None:
    """The last run and its result, the newest good snapshot, the next scheduled run, health check 6."""
    from autonomic.backup.status import status as backup_status

    backups, _ = _backups(workspace_dir)
    found = backup_status(backups.workspace, backups.settings, time.time())
    if json_output:
        render.as_json(found.to_dict())
        return
    last: dict[str, Any] = found.last_run or {}
    good = found.newest_good
    rows = [
        ("backup folder", str(found.target)),
        (
            "last run",
            f"{last.get('timestamp')}  {last.get('status')}  {last.get('details')}" if last else "never",
        ),
        (
            "newest good",
            f"{good.id} ({_when(good.created)}, {_size(good.size)}, {good.state.value})" if good else "none",
        ),
        ("snapshots", f"{found.snapshots}, {_size(found.disk_bytes)} on disk"),
        (
            "next run",
            _when(found.next_run) if found.next_run else "not scheduled (backup.schedule = false)",
        ),
        ("OS schedule", _registration(found.schedule)),
        ("health check 6", (found.health or {}).get("line", "-")),
    ]
    render.table(("", ""), rows, title="backup")


def _registration(reg: dict[str, Any] | None) -> str:
    if reg is None:
        return "unknown"
    return (
        f"{'ok' if reg.get('ok') else 'NOT OK'}: {reg.get('where') or ''} {reg.get('detail') or ''}".strip()
    )


def _when(epoch: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch)) if epoch else "-"


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"
