-- The ingest journal (SQLite): experiment spans and events acknowledged before they are
-- stored in their tables. One row per request, applied in `seq` order and then deleted;
-- a row that cannot be applied keeps its error in `failed`. See `src/journal.rs`.
CREATE TABLE ingest_journal (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    org_uuid TEXT,
    experiment_uuid TEXT,
    body TEXT NOT NULL,
    received_at TEXT NOT NULL,
    failed TEXT
);
