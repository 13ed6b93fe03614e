-- What the experiment pages asked two indexes for, kept per experiment instead, so that
-- storing a record's span and evaluations no longer adds an entry to each of them:
-- `experiment_runs`, each run of an experiment with the time its first evaluation arrived
-- (the runs list and run numbers), and `experiment_writes`, a count of the writes that
-- stored an experiment's spans or evaluations (whether a cached summary still holds).
-- Both are written by the same transaction as the spans and evaluations.
CREATE TABLE experiment_runs (
    experiment_uuid TEXT NOT NULL,
    run_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (experiment_uuid, run_id)
);
INSERT INTO experiment_runs (experiment_uuid, run_id, created_at)
    SELECT experiment_uuid, run_id, MIN(received_at) FROM experiment_metrics
    GROUP BY experiment_uuid, run_id;

CREATE TABLE experiment_writes (
    experiment_uuid TEXT PRIMARY KEY,
    writes BIGINT NOT NULL
);

DROP INDEX experiment_metrics_by_received;
DROP INDEX experiment_spans_by_received;
