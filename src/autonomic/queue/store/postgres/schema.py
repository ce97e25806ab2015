"""The PostgreSQL store's tables, as numbered migrations applied at start under an advisory lock.

Times are epoch seconds (double precision) on the servers' clocks; priority is its rank (0 urgent,
1 normal, 2 low) so `ORDER BY priority, seq` is claim order; `seq` comes from a sequence and is
taken again whenever a task goes back to the queue. Counts per status and priority, and the running
duration sum, are kept as *appended* deltas (statement triggers) and folded together now and then:
appends never wait on one another, so servers sharing the database never queue on a counter row.
"""

from __future__ import annotations

import zlib

import psycopg

from autonomic.errors import StoreError

# Each entry is one version; applied in order, each in the opening transaction. Never edit a released
# entry: append a new one.
MIGRATIONS: tuple[str, ...] = (
    # 1: tasks, workers, tallies
    """
    CREATE TABLE tasks (
        id               text PRIMARY KEY,
        type             text NOT NULL,
        data             text NOT NULL,
        priority         smallint NOT NULL,
        status           text NOT NULL,
        seq              bigint NOT NULL,
        created_at       double precision NOT NULL,
        run_at           double precision NOT NULL,
        attempts         integer NOT NULL,
        max_attempts     integer NOT NULL,
        idempotency_key  text,
        worker           text,
        leased_at        double precision,
        lease_expires_at double precision,
        last_error       text,
        finished_at      double precision,
        success          boolean,
        result_data      text,
        result_error     text,
        duration_ms      double precision
    );
    CREATE SEQUENCE task_seq;
    CREATE INDEX tasks_ready ON tasks (priority, seq) WHERE status = 'pending';
    CREATE INDEX tasks_run_at ON tasks (run_at) WHERE status = 'pending';
    CREATE INDEX tasks_leased ON tasks (lease_expires_at) WHERE status = 'leased';
    CREATE INDEX tasks_finished_seq ON tasks (finished_at, seq) WHERE finished_at IS NOT NULL;
    CREATE INDEX tasks_status_seq ON tasks (status, seq);
    CREATE UNIQUE INDEX tasks_key ON tasks (idempotency_key) WHERE idempotency_key IS NOT NULL;

    CREATE TABLE tallies (
        status    text NOT NULL,
        priority  smallint NOT NULL,
        n         bigint NOT NULL,
        dur_n     bigint NOT NULL,
        dur_total double precision NOT NULL
    );
    CREATE FUNCTION tally_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO tallies
        SELECT status, priority, count(*), count(duration_ms), coalesce(sum(duration_ms), 0)
        FROM new_rows GROUP BY status, priority;
        RETURN NULL;
    END $$;
    CREATE FUNCTION tally_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO tallies SELECT status, priority, -count(*), -count(duration_ms),
            -coalesce(sum(duration_ms), 0)
        FROM old_rows GROUP BY status, priority;
        RETURN NULL;
    END $$;
    CREATE FUNCTION tally_update() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO tallies
        SELECT status, priority, sum(n), sum(dur_n), sum(dur_total) FROM (
            SELECT status, priority, -1 AS n, -(duration_ms IS NOT NULL)::int AS dur_n,
                -coalesce(duration_ms, 0) AS dur_total FROM old_rows
            UNION ALL
            SELECT status, priority, 1, (duration_ms IS NOT NULL)::int, coalesce(duration_ms, 0) FROM new_rows
        ) AS d GROUP BY status, priority
        HAVING sum(n) <> 0 OR sum(dur_n) <> 0 OR sum(dur_total) <> 0;
        RETURN NULL;
    END $$;
    CREATE TRIGGER tasks_tally_insert AFTER INSERT ON tasks REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION tally_insert();
    CREATE TRIGGER tasks_tally_delete AFTER DELETE ON tasks REFERENCING OLD TABLE AS old_rows
        FOR EACH STATEMENT EXECUTE FUNCTION tally_delete();
    CREATE TRIGGER tasks_tally_update AFTER UPDATE ON tasks REFERENCING OLD TABLE AS old_rows
        NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tally_update();

    CREATE TABLE workers (
        name      text COLLATE "C" PRIMARY KEY,
        info      text NOT NULL,
        last_seen double precision NOT NULL
    );
    """,
)
VERSION = len(MIGRATIONS)


def lock_key(schema: str, purpose: str) -> int:
    """A stable 63-bit advisory-lock key for `purpose` in `schema` (the same on every server)."""
    return zlib.crc32(f"autonomic:{schema}:{purpose}".encode()) | (0x5A17 << 32)


def migrate(conn: psycopg.Connection[object], schema: str) -> int:
    """Bring `schema` to VERSION under an advisory lock, so servers starting together migrate once.

    Returns the number of migrations applied here. A database newer than this code is refused.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(schema, "migrate"),))
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'.encode())
        conn.execute(f'SET LOCAL search_path TO "{schema}"'.encode())
        conn.execute(
            "CREATE TABLE IF NOT EXISTS migrations "
            "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        row = conn.execute("SELECT coalesce(max(version), 0) FROM migrations").fetchone()
        current = int(row[0]) if row else 0  # type: ignore[index]
        if current > VERSION:
            raise StoreError(
                f"the queue schema {schema!r} is at version {current}, newer than this autonomic "
                f"(which knows {VERSION}): upgrade autonomic on this host"
            )
        for version in range(current + 1, VERSION + 1):
            conn.execute(MIGRATIONS[version - 1].encode())
            conn.execute("INSERT INTO migrations(version) VALUES (%s)", (version,))
        return VERSION - current
