-- The ingest journal's table, as on SQLite. PostgreSQL stores every write directly and
-- never fills it (see `src/journal.rs`); it exists so that both schemas stay one.
CREATE TABLE ingest_journal (
    seq BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    org_uuid TEXT,
    experiment_uuid TEXT,
    body TEXT NOT NULL,
    received_at TEXT NOT NULL,
    failed TEXT
);
