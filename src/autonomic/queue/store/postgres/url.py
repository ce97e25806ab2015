"""`[queue] store = "postgresql://…"`: parsed, its secrets filled from the environment or `.env`, and
redacted wherever it is shown.

Options of ours ride in the query string and are taken out before the URL reaches libpq:
`schema` (default `autonomic`: the tables live in that schema, so several workspaces can share one
database with different schemas) and `pool_max` (default 8: connections this server may open).
A password is best left out of autonomic.toml: write `${NAME}` in the URL and put `NAME=…` in `.env`,
or set `PGPASSWORD` in `.env` (libpq reads it), or use `~/.pgpass`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from autonomic.errors import ConfigError

SCHEMES = ("postgresql", "postgres")
DEFAULT_SCHEMA = "autonomic"
DEFAULT_POOL_MAX = 8
POOL_LIMIT = 100
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SECRET_PARAMS = frozenset({"password", "sslpassword"})
KEY = "autonomic.toml: queue.store"


@dataclass(frozen=True)
class PgUrl:
    """What the store needs from its URL. `conninfo` holds the secret: never log it, log `shown`."""

    conninfo: str
    schema: str = DEFAULT_SCHEMA
    pool_max: int = DEFAULT_POOL_MAX

    @property
    def shown(self) -> str:
        return redact(self.conninfo)

    def __repr__(self) -> str:
        return f"PgUrl({self.shown!r}, schema={self.schema!r}, pool_max={self.pool_max})"


def is_postgres(url: str) -> bool:
    return url.split(":", 1)[0].lower() in SCHEMES


def redact(url: str) -> str:
    """The URL with any password (in the authority or the query) replaced by `***`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable store URL>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}{':***' if colon else ''}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***" if k.lower() in _SECRET_PARAMS else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def parse(url: str, env: Mapping[str, str] | None = None, root: Path | None = None) -> PgUrl:
    """Check the URL, fill `${NAME}` from `env` (default: the process environment, then `root/.env`),
    and split off our options. Every problem is one `ConfigError` line that never shows the secret."""
    if not is_postgres(url):
        raise ConfigError(f"{KEY}: expected postgresql://user@host:port/database, got {redact(url)!r}")
    filled = _fill(url, env, root)
    try:
        parts = urlsplit(filled)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise ConfigError(f"{KEY}: {redact(url)!r} is not a valid URL ({exc})") from None
    if not parts.hostname and "host=" not in parts.query:
        raise ConfigError(f"{KEY}: {redact(url)!r} names no host")
    if parts.path.strip("/") == "":
        raise ConfigError(f"{KEY}: {redact(url)!r} names no database (postgresql://host/DATABASE)")
    schema, pool_max, rest = DEFAULT_SCHEMA, DEFAULT_POOL_MAX, []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "schema":
            if not _IDENTIFIER.fullmatch(value):
                raise ConfigError(f"{KEY}: schema {value!r} must be a lower-case SQL name (a-z, 0-9, _)")
            schema = value
        elif key == "pool_max":
            if not value.isdigit() or not 1 <= int(value) <= POOL_LIMIT:
                raise ConfigError(f"{KEY}: pool_max must be a whole number from 1 to {POOL_LIMIT}")
            pool_max = int(value)
        else:
            rest.append((key, value))
    conninfo = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(rest), ""))
    return PgUrl(conninfo, schema, pool_max)


def check(url: str) -> None:
    """`ValueError` (the message without the file and key) if `url` could never be a store URL; for the
    config's own validation, so `autonomic up` refuses it before any server starts. `${NAME}` is not
    looked up here (the server's environment and `.env` are read when it starts)."""
    try:
        parse(_PLACEHOLDER.sub("x", url), env={})
    except ConfigError as exc:
        raise ValueError(str(exc).removeprefix(f"{KEY}: ")) from None


def _fill(url: str, env: Mapping[str, str] | None, root: Path | None) -> str:
    names = _PLACEHOLDER.findall(url)
    if not names:
        return url
    values = dict(os.environ) if env is None else dict(env)
    if root is not None and any(name not in values for name in names):
        values = {**_dotenv(root / ".env"), **values}
    missing = [name for name in names if name not in values]
    if missing:
        raise ConfigError(f"{KEY}: ${{{missing[0]}}} is set neither in the environment nor in .env")
    return _PLACEHOLDER.sub(lambda m: _quote(values[m.group(1)]), url)


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def _dotenv(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}
