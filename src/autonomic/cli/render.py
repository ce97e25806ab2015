"""All terminal output goes through here: the only module that imports rich."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

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


def _cell(value: Any) -> Text:
    """Cells are data, never markup: a `[x]` in a path or a message is shown as written."""
    return Text("-" if value is None or value == "" else str(value))


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


@contextmanager
def progress_bar(text: str, after: float = 0.5) -> Iterator[Callable[[int, int, str], None]]:
    """A transient byte-progress bar on an interactive terminal, shown only once work has taken `after`
    seconds (short runs stay quiet; nothing at all elsewhere). Yields `update(done, total, current)`."""
    if not console.is_terminal:
        yield lambda done, total, current: None
        return
    from time import monotonic

    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[current]}", style="dim"),
        console=console,
        transient=True,
    )
    task = bar.add_task(text, total=None, current="")
    started = monotonic()
    shown = False

    def update(done: int, total: int, current: str) -> None:
        nonlocal shown
        if not shown and monotonic() - started >= after:
            bar.start()
            shown = True
        if shown:
            bar.update(task, completed=done, total=total or None, current=current[-40:])

    try:
        yield update
    finally:
        if shown:
            bar.stop()
