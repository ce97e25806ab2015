"""The SQLite store's tables, indexes and triggers.

Times are epoch seconds (REAL); priority is its rank (0 urgent, 1 normal, 2 low) so that
`ORDER BY priority, seq` is claim order. `seq` is re-assigned whenever a task goes back to the queue,
which is what puts a retried task at the back instead of the front.
"""

from __future__ import annotations

from autonomic.queue.task import Priority, TaskStatus

VERSION = 2

DDL = """
CREATE TABLE IF NOT EXISTS tasks (
    id               TEXT PRIMARY KEY,
    type             TEXT NOT NULL,
    data             TEXT NOT NULL,
    priority         INTEGER NOT NULL,
    status           TEXT NOT NULL,
    seq              INTEGER NOT NULL,
    created_at       REAL NOT NULL,
    run_at           REAL NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    idempotency_key  TEXT,
    worker           TEXT,
    leased_at        REAL,
    lease_expires_at REAL,
    last_error       TEXT,
    finished_at      REAL,
    success          INTEGER,
    result_data      TEXT,
    result_error     TEXT,
    duration_ms      REAL
);
-- Claim order. Queries in claim order name it (INDEXED BY): the planner, without statistics, would
-- otherwise take tasks_status_seq and sort every pending task for each claim. It also holds type and
-- run_at, so a claim for types that are rare in a deep queue filters in the index, not row by row.
DROP INDEX IF EXISTS tasks_ready;
CREATE INDEX IF NOT EXISTS tasks_claim ON tasks(priority, seq, type, run_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS tasks_leased ON tasks(lease_expires_at) WHERE status = 'leased';
-- finished_at is set for done, failed, cancelled and dead tasks: retention and the results listing use it.
DROP INDEX IF EXISTS tasks_finished;
CREATE INDEX IF NOT EXISTS tasks_finished_seq ON tasks(finished_at, seq) WHERE finished_at IS NOT NULL;
DROP INDEX IF EXISTS tasks_dead;
-- Listing a status other than pending pages along this index (keyset on seq), cheap at any size.
CREATE INDEX IF NOT EXISTS tasks_status_seq ON tasks(status, seq);
CREATE UNIQUE INDEX IF NOT EXISTS tasks_key ON tasks(idempotency_key) WHERE idempotency_key IS NOT NULL;

-- Per status and priority counts kept by triggers, so health probes and stats cost O(1).
CREATE TABLE IF NOT EXISTS counts (
    status   TEXT NOT NULL,
    priority INTEGER NOT NULL,
    n        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (status, priority)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS tasks_count_insert AFTER INSERT ON tasks BEGIN
    UPDATE counts SET n = n + 1 WHERE status = NEW.status AND priority = NEW.priority;
END;
CREATE TRIGGER IF NOT EXISTS tasks_count_update AFTER UPDATE OF status ON tasks
WHEN OLD.status != NEW.status BEGIN
    UPDATE counts SET n = n - 1 WHERE status = OLD.status AND priority = OLD.priority;
    UPDATE counts SET n = n + 1 WHERE status = NEW.status AND priority = NEW.priority;
END;
CREATE TRIGGER IF NOT EXISTS tasks_count_delete AFTER DELETE ON tasks BEGIN
    UPDATE counts SET n = n - 1 WHERE status = OLD.status AND priority = OLD.priority;
END;

-- Running sums kept by triggers, so /api/stats' average duration costs O(1) however many results are kept.
CREATE TABLE IF NOT EXISTS totals (
    name  TEXT PRIMARY KEY,
    n     INTEGER NOT NULL,
    total REAL NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS tasks_duration_update AFTER UPDATE OF duration_ms ON tasks
WHEN OLD.duration_ms IS NOT NEW.duration_ms BEGIN
    UPDATE totals SET n = n + (NEW.duration_ms IS NOT NULL) - (OLD.duration_ms IS NOT NULL),
        total = total + COALESCE(NEW.duration_ms, 0) - COALESCE(OLD.duration_ms, 0)
    WHERE name = 'duration';
END;
CREATE TRIGGER IF NOT EXISTS tasks_duration_delete AFTER DELETE ON tasks
WHEN OLD.duration_ms IS NOT NULL BEGIN
    UPDATE totals SET n = n - 1, total = total - OLD.duration_ms WHERE name = 'duration';
END;

CREATE TABLE IF NOT EXISTS workers (
    name      TEXT PRIMARY KEY,
    info      TEXT NOT NULL,
    last_seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

# Every (status, priority) row exists up front, so the triggers only ever UPDATE.
SEED_COUNTS = [(status.value, priority.rank) for status in TaskStatus for priority in Priority]

# Run once when a database of an older version is opened (each statement is idempotent).
MIGRATIONS = [
    # version 1 kept no time for dead-lettered tasks, so retention could never evict them
    "UPDATE tasks SET finished_at = COALESCE(lease_expires_at, leased_at, created_at) "
    "WHERE status = 'dead' AND finished_at IS NULL",
]
SEED_TOTALS = (
    "INSERT INTO totals(name, n, total) "
    "SELECT 'duration', COUNT(duration_ms), COALESCE(SUM(duration_ms), 0.0) "
    "FROM tasks WHERE duration_ms IS NOT NULL"
)
