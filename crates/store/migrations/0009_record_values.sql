-- The web UI's record filters and comparisons, in SQL: each experiment metric's value as
-- columns (booleans as 'true'/'false' and 1/0, categorical values as text, scores as
-- numbers, whether it carries an error), and each experiment span's dataset record (its
-- `dataset_record_id:` tag), filled for the rows already stored.
-- SQLite variant (JSON read with json_extract/json_type).
ALTER TABLE experiment_metrics ADD COLUMN value_text TEXT;
ALTER TABLE experiment_metrics ADD COLUMN value_num DOUBLE PRECISION;
ALTER TABLE experiment_metrics ADD COLUMN failed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE experiment_spans ADD COLUMN record_id TEXT NOT NULL DEFAULT '';

UPDATE experiment_metrics SET
    value_text = CASE json_extract(body, '$.metric_type')
        WHEN 'boolean' THEN CASE json_type(body, '$.boolean_value')
            WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' END
        WHEN 'categorical' THEN CASE
            WHEN json_type(body, '$.categorical_value') IS NULL
              OR json_type(body, '$.categorical_value') = 'null' THEN NULL
            ELSE CAST(json_extract(body, '$.categorical_value') AS TEXT) END
        END,
    value_num = CASE json_extract(body, '$.metric_type')
        WHEN 'boolean' THEN CASE json_type(body, '$.boolean_value')
            WHEN 'true' THEN 1.0 WHEN 'false' THEN 0.0 END
        WHEN 'score' THEN CASE WHEN json_type(body, '$.score_value') IN ('integer', 'real')
            THEN json_extract(body, '$.score_value') END
        END,
    failed = CASE
        WHEN json_type(body, '$.error') IS NULL OR json_type(body, '$.error') = 'null' THEN 0
        WHEN json_type(body, '$.error') = 'object' AND json_extract(body, '$.error') = '{}' THEN 0
        ELSE 1 END;

UPDATE experiment_spans SET record_id = COALESCE((
    SELECT substr(t.value, 19) FROM json_each(body, '$.tags') t
    WHERE t.type = 'text' AND t.value LIKE 'dataset\_record\_id:%' ESCAPE '\'
    ORDER BY t.id LIMIT 1), '')
WHERE json_type(body, '$.tags') = 'array';

-- Records in start order (the experiment page), by dataset record (comparisons), and an
-- experiment's evaluations by label and value (filters), and by span (a page's records);
-- the last write of an experiment's metrics and spans (whether its cached summary holds).
CREATE INDEX experiment_spans_by_start ON experiment_spans (experiment_uuid, start_ns, span_id);
CREATE INDEX experiment_spans_by_record ON experiment_spans (experiment_uuid, record_id);
CREATE INDEX experiment_metrics_by_value
    ON experiment_metrics (experiment_uuid, label, value_text, value_num);
CREATE INDEX experiment_metrics_by_span ON experiment_metrics (experiment_uuid, span_id, label);
CREATE INDEX experiment_metrics_by_received ON experiment_metrics (experiment_uuid, received_at);
CREATE INDEX experiment_spans_by_received ON experiment_spans (experiment_uuid, received_at);
