-- Topic discovery ("patterns"): configs, their runs, the topics a run found and the span
-- inputs (points) it clustered. `settings`, `snapshot`, `progress` and `metrics` are JSON.
-- A topic's `parent_uuid` is '' at the top; a point belongs to its leaf topic. Runs are
-- org-scoped; topics and points through their run.
CREATE TABLE topic_configs (
    uuid TEXT PRIMARY KEY,
    org_uuid TEXT NOT NULL,
    name TEXT NOT NULL,
    settings TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX topic_configs_by_org ON topic_configs (org_uuid, updated_at);

CREATE TABLE topic_runs (
    uuid TEXT PRIMARY KEY,
    org_uuid TEXT NOT NULL,
    config_uuid TEXT NOT NULL,
    status TEXT NOT NULL,
    step TEXT NOT NULL,
    progress TEXT NOT NULL,
    snapshot TEXT NOT NULL,
    created_at TEXT NOT NULL,
    completed_at TEXT
);
CREATE INDEX topic_runs_by_config ON topic_runs (config_uuid, created_at);
CREATE INDEX topic_runs_by_status ON topic_runs (status);

CREATE TABLE topics (
    uuid TEXT PRIMARY KEY,
    run_uuid TEXT NOT NULL,
    position BIGINT NOT NULL,
    parent_uuid TEXT NOT NULL,
    level BIGINT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    point_count BIGINT NOT NULL,
    first_seen_at TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX topics_by_run ON topics (run_uuid, position);

CREATE TABLE topic_points (
    uuid TEXT PRIMARY KEY,
    run_uuid TEXT NOT NULL,
    topic_uuid TEXT NOT NULL,
    position BIGINT NOT NULL,
    span_id TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    input TEXT NOT NULL,
    metrics TEXT NOT NULL
);
CREATE INDEX topic_points_by_topic ON topic_points (topic_uuid, position);
CREATE INDEX topic_points_by_run ON topic_points (run_uuid);
