CREATE TABLE projects (
    uuid TEXT PRIMARY KEY,
    org_uuid TEXT NOT NULL REFERENCES orgs (uuid),
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    author TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (org_uuid, name)
);

CREATE TABLE datasets (
    uuid TEXT PRIMARY KEY,
    org_uuid TEXT NOT NULL REFERENCES orgs (uuid),
    project_uuid TEXT NOT NULL REFERENCES projects (uuid),
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    current_version BIGINT NOT NULL,
    -- The position the newest record got; records are listed by position.
    record_seq BIGINT NOT NULL,
    author TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
);
CREATE INDEX datasets_by_name ON datasets (project_uuid, name);

-- One row per state of a record: visible in versions from_version <= v < to_version
-- (to_version NULL while it is the live state).
CREATE TABLE dataset_records (
    dataset_uuid TEXT NOT NULL REFERENCES datasets (uuid),
    record_id TEXT NOT NULL,
    from_version BIGINT NOT NULL,
    to_version BIGINT,
    position BIGINT NOT NULL,
    canonical_id TEXT NOT NULL,
    input TEXT NOT NULL,
    expected_output TEXT,
    metadata TEXT,
    tags TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    author TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT,
    PRIMARY KEY (dataset_uuid, record_id, from_version)
);
CREATE INDEX dataset_records_by_position ON dataset_records (dataset_uuid, position);
CREATE INDEX dataset_records_by_content ON dataset_records (dataset_uuid, content_hash);

CREATE TABLE experiments (
    uuid TEXT PRIMARY KEY,
    org_uuid TEXT NOT NULL REFERENCES orgs (uuid),
    project_uuid TEXT NOT NULL REFERENCES projects (uuid),
    dataset_uuid TEXT NOT NULL REFERENCES datasets (uuid),
    dataset_version BIGINT NOT NULL,
    experiment TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    config TEXT NOT NULL,
    metadata TEXT NOT NULL,
    run_count BIGINT NOT NULL,
    parent_experiment_id TEXT,
    status TEXT,
    error TEXT,
    author TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
);
CREATE INDEX experiments_by_project ON experiments (org_uuid, project_uuid, created_at);

-- Spans of experiments (span intake, or replayed through events), kept as sent.
CREATE TABLE experiment_spans (
    experiment_uuid TEXT NOT NULL REFERENCES experiments (uuid),
    span_id TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    start_ns BIGINT NOT NULL,
    body TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (experiment_uuid, span_id)
);

-- Metrics of experiments, kept as sent; joined to spans by span_id when read, since they
-- often arrive first. A metric posted twice (client retry) is stored once.
CREATE TABLE experiment_metrics (
    experiment_uuid TEXT NOT NULL REFERENCES experiments (uuid),
    metric_source TEXT NOT NULL,
    span_id TEXT NOT NULL,
    label TEXT NOT NULL,
    timestamp_ms BIGINT NOT NULL,
    run_id TEXT NOT NULL,
    body TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (experiment_uuid, metric_source, span_id, label, timestamp_ms, run_id)
);

-- Spans that belong to no experiment, and eval metrics from the intake, for a trace view.
CREATE TABLE llmobs_spans (
    org_uuid TEXT NOT NULL REFERENCES orgs (uuid),
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    body TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (org_uuid, trace_id, span_id)
);

CREATE TABLE eval_metrics (
    uuid TEXT PRIMARY KEY,
    org_uuid TEXT NOT NULL REFERENCES orgs (uuid),
    label TEXT NOT NULL,
    body TEXT NOT NULL,
    received_at TEXT NOT NULL
);

-- Evaluators that remote inference can run, by name.
CREATE TABLE evaluators (
    org_uuid TEXT NOT NULL REFERENCES orgs (uuid),
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    config TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (org_uuid, name)
);
