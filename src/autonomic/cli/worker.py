"""`autonomic worker` (being written for issue 4)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the worker command to the root app."""
