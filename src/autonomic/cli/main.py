"""The `autonomic` command: builds the typer app and owns the one exit path for errors."""

from __future__ import annotations

import sys

import typer

from autonomic import __version__
from autonomic.cli import backup as backup_commands
from autonomic.cli import boot as boot_commands
from autonomic.cli import export as export_commands
from autonomic.cli import health as health_commands
from autonomic.cli import monitor as monitor_commands
from autonomic.cli import queue as queue_commands
from autonomic.cli import services as service_commands
from autonomic.cli import upgrade as upgrade_commands
from autonomic.cli import vscode as vscode_commands
from autonomic.cli import watchdog as watchdog_commands
from autonomic.cli import worker as worker_commands
from autonomic.cli.render import error_line
from autonomic.errors import AutonomicError

app = typer.Typer(
    name="autonomic",
    help="Reboot-resilient background services: supervision, a durable task queue, health and backups.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"autonomic {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    """autonomic keeps a workspace's services alive through crashes, hangs, reboots and upgrades."""


service_commands.register(app)
queue_commands.register(app)
worker_commands.register(app)
monitor_commands.register(app)
boot_commands.register(app)
backup_commands.register(app)
watchdog_commands.register(app)
health_commands.register(app)
vscode_commands.register(app)
upgrade_commands.register(app)
export_commands.register(app)


def run() -> None:
    """Console-script entry: every `AutonomicError` becomes one line on stderr and its exit code."""
    try:
        code = app(standalone_mode=False)  # click returns (not raises) a typer.Exit's code in this mode
        if isinstance(code, int) and code:
            sys.exit(code)
    except AutonomicError as exc:
        error_line(str(exc))
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        error_line("aborted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.TyperException as exc:
        # usage errors (unknown option, missing argument): typer's own message, without a traceback
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            error_line(str(exc))
        sys.exit(int(getattr(exc, "exit_code", 2)))
