CREATE TABLE orgs (
    uuid TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);

-- API and application keys, stored as SHA-256 hex digests.
CREATE TABLE api_keys (
    hash TEXT PRIMARY KEY,
    org_uuid TEXT NOT NULL REFERENCES orgs (uuid),
    kind TEXT NOT NULL CHECK (kind IN ('api', 'app')),
    user_uuid TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE prompts (
    uuid TEXT PRIMARY KEY,
    org_uuid TEXT NOT NULL REFERENCES orgs (uuid),
    prompt_id TEXT NOT NULL,
    title TEXT,
    description TEXT,
    created_at TEXT NOT NULL,
    created_from TEXT NOT NULL,
    author TEXT NOT NULL,
    -- The number the newest version got; versions are numbered by bumping it.
    version_seq BIGINT NOT NULL,
    last_version_created_at TEXT NOT NULL,
    deleted_at TEXT
);
CREATE UNIQUE INDEX prompts_live_id ON prompts (org_uuid, prompt_id) WHERE deleted_at IS NULL;
CREATE INDEX prompts_by_id ON prompts (org_uuid, prompt_id);

CREATE TABLE prompt_versions (
    uuid TEXT PRIMARY KEY,
    prompt_uuid TEXT NOT NULL REFERENCES prompts (uuid),
    version BIGINT NOT NULL,
    user_version TEXT,
    template TEXT NOT NULL,
    description TEXT,
    config TEXT,
    created_at TEXT NOT NULL,
    author TEXT NOT NULL,
    UNIQUE (prompt_uuid, version)
);

-- A label sits on at most one version of a prompt.
CREATE TABLE prompt_labels (
    prompt_uuid TEXT NOT NULL REFERENCES prompts (uuid),
    label TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (prompt_uuid, label)
);

CREATE TABLE environments (
    uuid TEXT PRIMARY KEY,
    org_uuid TEXT NOT NULL REFERENCES orgs (uuid),
    name TEXT NOT NULL,
    UNIQUE (org_uuid, name)
);

-- The version an environment serves by default, per prompt.
CREATE TABLE env_deployments (
    prompt_uuid TEXT NOT NULL REFERENCES prompts (uuid),
    env_uuid TEXT NOT NULL REFERENCES environments (uuid),
    version BIGINT NOT NULL,
    PRIMARY KEY (prompt_uuid, env_uuid)
);
