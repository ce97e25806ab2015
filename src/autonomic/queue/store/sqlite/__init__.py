"""The SQLite store, split by job: `store` (the facade), `commands`, `reads`, `engine` (transitions),
`retention`, `workers` (the registry), `integrity` (WAL and quick_check), `connection`, `schema`, `rows`."""

from __future__ import annotations

from autonomic.queue.store.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
