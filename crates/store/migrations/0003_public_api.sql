-- Datadog's public API: deleted projects, dataset metadata and draft locks.

-- A deleted project keeps its row (its datasets and experiments point at it) and frees its
-- name: the name gets the suffix " (deleted <uuid>)".
ALTER TABLE projects ADD COLUMN deleted_at TEXT;
CREATE INDEX projects_by_created ON projects (org_uuid, created_at, uuid);

-- A JSON object, or NULL when never set.
ALTER TABLE datasets ADD COLUMN metadata TEXT;

-- Who holds the dataset's draft lock, and since when (both NULL when unlocked).
ALTER TABLE datasets ADD COLUMN draft_user TEXT;
ALTER TABLE datasets ADD COLUMN draft_since TEXT;
