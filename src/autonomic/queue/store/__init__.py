"""Queue storage: one protocol (`base.Store`), backends chosen by URL.

`sqlite:///relative/path` is relative to the workspace, `sqlite:////absolute/path` is absolute.
A backend's driver is imported only inside its own module, when its URL is used.
"""

from __future__ import annotations

from pathlib import Path

from autonomic.clock import Clock
from autonomic.errors import ConfigError
from autonomic.queue.store.base import PAGE_MAX, Policy, Store

__all__ = ["PAGE_MAX", "Policy", "Store", "open_store"]


def open_store(
    url: str | None,
    default_path: Path,
    *,
    root: Path,
    clock: Clock | None = None,
    policy: Policy | None = None,
    sync: str = "normal",
) -> Store:
    """The store named by `url` (None: SQLite at `default_path`). Relative paths are under `root`."""
    if url is None or url.startswith("sqlite:"):
        from autonomic.queue.store.sqlite import SqliteStore

        path = default_path if url is None else _sqlite_path(url, root)
        return SqliteStore(path, clock=clock, policy=policy, sync=sync)
    scheme = url.split(":", 1)[0]
    if scheme in ("postgres", "postgresql"):
        try:
            from autonomic.queue.store.postgres.store import open_postgres
        except ImportError:
            raise ConfigError(
                "autonomic.toml: queue.store: a postgresql:// store needs the driver: "
                "pip install 'autonomic[postgres]'"
            ) from None
        return open_postgres(url, root=root, clock=clock, policy=policy)
    raise ConfigError(
        f"autonomic.toml: queue.store: unknown store {scheme!r}; expected sqlite:///path or postgresql://..."
    )


def _sqlite_path(url: str, root: Path) -> Path:
    rest = url.removeprefix("sqlite:")
    if not rest.startswith("///") or len(rest) == 3:
        raise ConfigError(f"autonomic.toml: queue.store: expected sqlite:///path, got {url!r}")
    path = Path(rest[3:])
    return path if path.is_absolute() else root / path
