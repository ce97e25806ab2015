"""`autonomic init | up | down | status | start | stop | restart | logs`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the service commands to the root app."""
