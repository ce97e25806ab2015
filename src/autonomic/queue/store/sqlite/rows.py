"""SQLite rows as dicts (`dict_factory`); the conversions to records are the backend-neutral ones."""

from __future__ import annotations

import sqlite3
from typing import Any

from autonomic.queue.store.rows import Row, dump, reported_duration_ms, result, task, worker


def dict_factory(cursor: sqlite3.Cursor, values: tuple[Any, ...]) -> Row:
    return {column[0]: value for column, value in zip(cursor.description, values, strict=True)}


__all__ = ["Row", "dict_factory", "dump", "reported_duration_ms", "result", "task", "worker"]
