"""`autonomic health [--fix] [--json]` and `autonomic bringup`: the seed's dashboard, auto-fix and the
safe bring-up. The box is drawn here (the only place that knows its look); the facts come from
`autonomic.health`."""

from __future__ import annotations

from pathlib import Path

import typer

from autonomic.cli import render
from autonomic.cli.options import JsonOption, WorkspaceOption, find_workspace
from autonomic.health import checks
from autonomic.health.autofix import AutoFix
from autonomic.health.bringup import Step, bringup, settled
from autonomic.health.check import CheckId
from autonomic.health.context import HealthContext
from autonomic.health.report import HealthReport
from autonomic.workspace import Workspace

_TOP = "╔══════════════════════════════════════════════╗"
_TITLE = "║   System Health Dashboard - Post-Reboot      ║"
_BOTTOM = "╚══════════════════════════════════════════════╝"
_RULE = "───────────────────────────────────────────────"


def box_lines(report: HealthReport) -> list[tuple[str, str]]:
    """The dashboard, line by line, each with its style."""
    lines = [(_TOP, "bold"), (_TITLE, "bold"), (_BOTTOM, "bold"), ("", "")]
    for result in report.results:
        lines.append((f"  {'✓' if result.ok else '✗'} {result.line}", "green" if result.ok else "red"))
    tier_style = {0: "green", 1: "yellow", 2: "red"}[report.tier.exit_code]
    lines += [
        ("", ""),
        (_RULE, ""),
        (f"  Status: {report.passed}/{report.total} checks passed ({report.percent}%)", "bold"),
        (f"  System Status: {report.tier.banner}", f"bold {tier_style}"),
        (_RULE, ""),
    ]
    return lines


def show_box(report: HealthReport) -> None:
    for text, style in box_lines(report):
        render.console.print(text, style=style or None, markup=False, highlight=False, soft_wrap=True)


def show_after_up(workspace: Workspace, settle: float = 10.0) -> None:
    """The box `autonomic up` ends with, once the services it just started have had a moment (bounded)
    for their first heartbeat, sample and report."""
    ctx = HealthContext.load(workspace)
    report = settled(
        ctx, {CheckId.QUEUE, CheckId.WORKER, CheckId.MONITOR, CheckId.WATCHDOG, CheckId.OUTPUTS}, settle
    )
    render.info("")
    show_box(report)


def health(
    fix: bool = typer.Option(False, "--fix", help="Detect, fix and verify (at most 3 rounds)."),
    json_output: bool = JsonOption,
    workspace_dir: Path | None = WorkspaceOption,
) -> None:
    """The 8-check health dashboard. Exit code 0: all pass, 1: degraded (1-2 fail), 2: critical."""
    ctx = HealthContext.load(find_workspace(workspace_dir))
    if not fix:
        report = checks.run_all(ctx)
        render.as_json(report.to_dict()) if json_output else show_box(report)
        raise typer.Exit(report.tier.exit_code)
    outcome = AutoFix(ctx, say=(lambda message: None) if json_output else render.info).run()
    if json_output:
        render.as_json(outcome.to_dict())
    else:
        if not outcome.actions:
            render.info("nothing to fix" if not outcome.report.failing else "nothing that can be fixed here")
        show_box(outcome.report)
    raise typer.Exit(outcome.report.tier.exit_code)


def bringup_command(
    json_output: bool = JsonOption,
    timeout: float = typer.Option(120.0, "--timeout", min=1.0, help="Seconds to wait for the services."),
    workspace_dir: Path | None = WorkspaceOption,
) -> None:
    """Auto: Bring-up on VS Code Open (safe): start what is missing, check, rebuild reports, show the box.
    Exit 0 when every step passed, 1 when one did not."""
    ctx = HealthContext.load(find_workspace(workspace_dir))

    def say(step: Step) -> None:
        if not json_output:
            mark, style = ("✓", "green") if step.ok else ("✗", "red")
            render.console.print(
                f"{mark} {step.name}: {step.detail}", style=style, markup=False, highlight=False
            )

    with render.spinner("bringing the workspace up") if not json_output else _quiet():
        steps, report = bringup(ctx, say=say, timeout=timeout)
    if json_output:
        render.as_json({"steps": [s.to_dict() for s in steps], **report.to_dict()})
    else:
        render.info("")
        show_box(report)
    if not all(step.ok for step in steps):
        raise typer.Exit(1)


class _quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def register(app: typer.Typer) -> None:
    app.command()(health)
    app.command("bringup")(bringup_command)
