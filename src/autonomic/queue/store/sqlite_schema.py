"""The SQLite store's tables, indexes and triggers.

Times are epoch seconds (REAL); priority is its rank (0 urgent, 1 normal, 2 low) so that
`ORDER BY priority, seq` is claim order. `seq` is re-assigned whenever a task goes back to the queue,
which is what puts a retried task at the back instead of the front.
"""

from __future__ import annotations

from autonomic.queue.task import Priority, TaskStatus

VERSION = 1

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
CREATE INDEX IF NOT EXISTS tasks_ready ON tasks(priority, seq) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS tasks_leased ON tasks(lease_expires_at) WHERE status = 'leased';
CREATE INDEX IF NOT EXISTS tasks_finished ON tasks(finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS tasks_dead ON tasks(seq) WHERE status = 'dead';
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
