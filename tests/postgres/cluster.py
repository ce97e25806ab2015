"""A throwaway PostgreSQL cluster: initdb in a temp dir, `postgres` on a free loopback port, stopped by pid.

Used by the tests (the `pg_cluster` fixture in `tests/postgres/fixtures.py`) and by
`benchmarks/queue_postgres.py`. Debian's PostgreSQL (`/usr/lib/postgresql/<N>/bin`) is what
`scripts/bootstrap --dev` installs. PostgreSQL refuses to run as root, so when we are root the
server runs as the `postgres` user (or `nobody`) in a directory handed to it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

SUPERUSER = "autonomic"
PASSWORD = "throwaway-" + uuid.uuid4().hex[:12]  # a password, so tests see that it is never logged


def find_bin() -> Path | None:
    """The newest Debian PostgreSQL bin directory holding initdb and postgres, or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: _major(p.parent.parent))
    for initdb in reversed(found):
        if (initdb.parent / "postgres").exists():
            return initdb.parent
    which = shutil.which("initdb")
    return Path(which).parent if which and shutil.which("postgres") else None


def _major(path: Path) -> int:
    return int(path.name) if path.name.isdigit() else 0


def missing_reason() -> str | None:
    """Why no cluster can be started here (one line), or None when it can."""
    if find_bin() is None:
        return "PostgreSQL is not installed (no initdb/postgres; scripts/bootstrap --dev installs it)"
    if os.geteuid() == 0 and _run_as() is None:
        return "running as root and neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL"
    return None


def _run_as() -> pwd.struct_passwd | None:
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    """One running cluster. `url(db)` connects as the superuser with its password."""

    root: Path
    port: int
    process: subprocess.Popen[bytes]
    databases: list[str] = field(default_factory=list)

    @classmethod
    def start(
        cls, settings: Sequence[str] = ("fsync=off", "synchronous_commit=off"), timeout: float = 60.0
    ) -> Cluster:
        reason = missing_reason()
        if reason is not None:
            raise RuntimeError(reason)
        bindir = find_bin()
        assert bindir is not None
        root = Path(tempfile.mkdtemp(prefix="autonomic-pg-"))
        user = _run_as() if os.geteuid() == 0 else None
        uid, gid = (None, None) if user is None else (user.pw_uid, user.pw_gid)
        data = root / "data"
        pwfile = root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if user is not None:
            os.chown(root, user.pw_uid, user.pw_gid)
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        subprocess.run(
            [str(bindir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--pwfile", str(pwfile),
             "-A", "scram-sha-256", "-E", "UTF8", "--no-sync"],
            check=True, capture_output=True, env=env, cwd=root, timeout=timeout, user=uid, group=gid,
        )  # fmt: skip
        port = _free_port()
        options = [f"-c{s}" for s in ("listen_addresses=127.0.0.1", f"unix_socket_directories={root}",
                                      "max_connections=200", *settings)]  # fmt: skip
        log = open(root / "postgres.log", "ab")  # noqa: SIM115 - handed to the child
        process = subprocess.Popen(
            [str(bindir / "postgres"), "-D", str(data), "-p", str(port), *options],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root, start_new_session=True,
            user=uid, group=gid,
        )  # fmt: skip
        log.close()
        cluster = cls(root, port, process)
        try:
            cluster._wait_ready(timeout)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited at start: {self.log_tail()}")
            try:
                self.execute("postgres", "SELECT 1")
                return
            except Exception:  # not up yet
                time.sleep(0.1)
        raise RuntimeError(f"postgres did not accept connections within {timeout}s: {self.log_tail()}")

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self.root / "postgres.log").read_text(errors="replace")[-2000:]
        return ""

    def url(self, database: str = "postgres", password: bool = True) -> str:
        secret = f":{PASSWORD}" if password else ""
        return f"postgresql://{SUPERUSER}{secret}@127.0.0.1:{self.port}/{database}"

    def execute(self, database: str, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.encode())

    def create_database(self, prefix: str = "t") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.execute("postgres", f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return name

    def drop_database(self, name: str) -> None:
        with contextlib.suppress(Exception):
            self.execute("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """SIGINT (fast shutdown) to the postmaster by its pid, SIGKILL after 10 s; the directory goes."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)
