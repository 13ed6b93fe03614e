-- The spans query plane: one row per span the store holds (in experiment_spans or
-- llmobs_spans), with the fields searches filter on, kept by the writes that store the
-- span. `experiment_uuid` is '' for a span of the org's trace store; `trace_key` is its
-- trace_id there and '' for an experiment span (whose key is experiment and span id).
-- `tags` is '|' + the tags joined by '|' + '|'; `content` is the input and output text.
-- SQLite variant: `seq` is the rowid, and full-text search is an FTS5 index over
-- `content`, kept by triggers.
CREATE TABLE span_search (
    seq INTEGER PRIMARY KEY,
    org_uuid TEXT NOT NULL,
    experiment_uuid TEXT NOT NULL,
    trace_key TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_id TEXT NOT NULL,
    start_ns BIGINT NOT NULL,
    duration_ns BIGINT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    ml_app TEXT NOT NULL,
    status TEXT NOT NULL,
    session_id TEXT NOT NULL,
    model_name TEXT NOT NULL,
    model_provider TEXT NOT NULL,
    tags TEXT NOT NULL,
    content TEXT NOT NULL,
    UNIQUE (org_uuid, span_id, experiment_uuid, trace_key)
);
CREATE INDEX span_search_by_time ON span_search (org_uuid, start_ns);
CREATE INDEX span_search_by_trace ON span_search (org_uuid, trace_id, start_ns);
CREATE INDEX span_search_by_app ON span_search (org_uuid, ml_app, start_ns);

-- Fixed planner statistics (rows per org, per trace, per app...), so that SQLite picks the
-- trace, app or span-id index over the time index from the first search on, without an
-- ANALYZE of a growing table; a later ANALYZE replaces them with measured ones.
ANALYZE span_search;
DELETE FROM sqlite_stat1 WHERE tbl = 'span_search';
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
    ('span_search', 'span_search_by_time', '1000000 100000 2'),
    ('span_search', 'span_search_by_trace', '1000000 100000 4 2'),
    ('span_search', 'span_search_by_app', '1000000 100000 5000 2'),
    ('span_search', 'sqlite_autoindex_span_search_1', '1000000 100000 1 1 1');

CREATE VIRTUAL TABLE span_search_text USING fts5 (
    content, content = 'span_search', content_rowid = 'seq', columnsize = 0
);
CREATE TRIGGER span_search_text_insert AFTER INSERT ON span_search BEGIN
    INSERT INTO span_search_text (rowid, content) VALUES (new.seq, new.content);
END;
CREATE TRIGGER span_search_text_delete AFTER DELETE ON span_search BEGIN
    INSERT INTO span_search_text (span_search_text, rowid, content)
    VALUES ('delete', old.seq, old.content);
END;
CREATE TRIGGER span_search_text_update AFTER UPDATE OF content ON span_search BEGIN
    INSERT INTO span_search_text (span_search_text, rowid, content)
    VALUES ('delete', old.seq, old.content);
    INSERT INTO span_search_text (rowid, content) VALUES (new.seq, new.content);
END;
