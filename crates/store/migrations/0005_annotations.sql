-- Annotation queues: a project's queues with their label schema (JSON), the interactions
-- added to each (a trace, experiment trace or session by id, or display blocks sent as
-- JSON), and one annotation per reviewer and interaction, its label values as JSON.
-- Booleans are 0/1. Deleting a queue deletes its rows (nothing refers to them).
CREATE TABLE annotation_queues (
    uuid TEXT PRIMARY KEY,
    org_uuid TEXT NOT NULL REFERENCES orgs (uuid),
    project_uuid TEXT NOT NULL REFERENCES projects (uuid),
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    label_schema TEXT,
    restrict_to_assignees BIGINT NOT NULL,
    restrict_to_reviewers BIGINT NOT NULL,
    reviewer_emails TEXT NOT NULL,
    created_by TEXT NOT NULL,
    modified_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    modified_at TEXT NOT NULL
);
CREATE INDEX annotation_queues_by_project ON annotation_queues (org_uuid, project_uuid, created_at);

CREATE TABLE annotation_interactions (
    uuid TEXT PRIMARY KEY,
    org_uuid TEXT NOT NULL REFERENCES orgs (uuid),
    queue_uuid TEXT NOT NULL REFERENCES annotation_queues (uuid),
    kind TEXT NOT NULL,
    content_id TEXT NOT NULL,
    display_block TEXT,
    position BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    modified_at TEXT NOT NULL,
    UNIQUE (queue_uuid, kind, content_id)
);
CREATE INDEX annotation_interactions_by_position ON annotation_interactions (queue_uuid, position);
CREATE INDEX annotation_interactions_by_content ON annotation_interactions (org_uuid, content_id);

CREATE TABLE annotations (
    uuid TEXT PRIMARY KEY,
    queue_uuid TEXT NOT NULL REFERENCES annotation_queues (uuid),
    interaction_uuid TEXT NOT NULL REFERENCES annotation_interactions (uuid),
    author TEXT NOT NULL,
    label_values TEXT NOT NULL,
    created_at TEXT NOT NULL,
    modified_at TEXT NOT NULL,
    UNIQUE (interaction_uuid, author)
);
CREATE INDEX annotations_by_queue ON annotations (queue_uuid, created_at);
