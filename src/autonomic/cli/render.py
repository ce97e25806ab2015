"""All terminal output goes through here: the only module that imports rich."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


def error_line(message: str) -> None:
    """One line on stderr, no markup interpretation, no traceback."""
    err_console.print(f"error: {message}", style="bold red", markup=False, highlight=False, soft_wrap=True)


def info(message: str) -> None:
    console.print(message, markup=False, highlight=False, soft_wrap=True)


def success(message: str) -> None:
    console.print(message, style="green", markup=False, highlight=False, soft_wrap=True)


def warn(message: str) -> None:
    err_console.print(message, style="yellow", markup=False, highlight=False, soft_wrap=True)


def as_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> None:
    grid = Table(title=title, header_style="bold", show_lines=False)
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*(_cell(v) for v in row))
    console.print(grid)


def _cell(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def raw(text: str) -> None:
    """Text exactly as given (log lines), without rich processing."""
    sys.stdout.write(text)
    sys.stdout.flush()


@contextmanager
def spinner(text: str) -> Iterator[Callable[[str], None]]:
    """A one-line live status on an interactive terminal (nothing elsewhere); yields its updater."""
    if not console.is_terminal:
        yield lambda message: None
        return
    with console.status(text) as status:
        yield status.update
