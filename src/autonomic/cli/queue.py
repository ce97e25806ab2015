"""`autonomic serve` and `autonomic queue ...` (being written for issue 3)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the queue commands to the root app."""
