"""`autonomic monitor` (the daemon in the foreground), `autonomic report` (the four reports now) and
`autonomic dashboard` (open the live page with a one-time login URL)."""

from __future__ import annotations

import webbrowser
from pathlib import Path

import typer

from autonomic.cli import render
from autonomic.cli.options import find_workspace


def register(app: typer.Typer) -> None:
    """Add the monitor commands to the root app."""
    app.command("monitor")(monitor)
    app.command("report")(report)
    app.command("dashboard")(dashboard)


WORKSPACE = typer.Option(None, "--workspace", "-w", help="The workspace folder.")


def monitor(workspace: Path | None = WORKSPACE) -> None:
    """Run the Monitoring Daemon in the foreground (the orchestrator runs it as the service `monitor`)."""
    from autonomic.monitor.run import serve

    serve(find_workspace(workspace))


def report(
    workspace: Path | None = WORKSPACE,
    as_json: bool = typer.Option(False, "--json", help="Print the realtime summary as JSON."),
) -> None:
    """Rewrite the four report files now, from the samples and one fresh sample."""
    from autonomic.monitor.run import report_once

    summary, files = report_once(find_workspace(workspace))
    if as_json:
        render.as_json(summary)
        return
    render.info(f"status: {summary['status']}")
    for path in files:
        render.info(f"wrote {path}")


def dashboard(
    workspace: Path | None = WORKSPACE,
    open_browser: bool = typer.Option(True, "--open/--no-open", help="Open the page in the default browser."),
) -> None:
    """Open the live dashboard with a one-time login URL (it sets a session cookie, then stops working)."""
    from autonomic import api_token, config
    from autonomic.errors import StateError
    from autonomic.monitor.login import login_url

    found = find_workspace(workspace)
    settings = config.load(found).monitor
    token = api_token.read(found)
    if token is None:
        raise StateError(f"{found.token_file}: no token yet; start the stack with 'autonomic up'")
    url = login_url(settings.url, token)
    render.info(url)
    if open_browser and not webbrowser.open(url):
        render.warn("could not open a browser; open the URL above (it works once, for a minute)")
