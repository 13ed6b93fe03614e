-- The web UI's record filters and comparisons, in SQL: each experiment metric's value as
-- columns (booleans as 'true'/'false' and 1/0, categorical values as text, scores as
-- numbers, whether it carries an error), and each experiment span's dataset record (its
-- `dataset_record_id:` tag), filled for the rows already stored.
-- PostgreSQL variant (JSON read through jsonb).
ALTER TABLE experiment_metrics ADD COLUMN value_text TEXT;
ALTER TABLE experiment_metrics ADD COLUMN value_num DOUBLE PRECISION;
ALTER TABLE experiment_metrics ADD COLUMN failed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE experiment_spans ADD COLUMN record_id TEXT NOT NULL DEFAULT '';

UPDATE experiment_metrics SET
    value_text = CASE body::jsonb ->> 'metric_type'
        WHEN 'boolean' THEN CASE jsonb_typeof(body::jsonb -> 'boolean_value')
            WHEN 'boolean' THEN body::jsonb ->> 'boolean_value' END
        WHEN 'categorical' THEN CASE jsonb_typeof(body::jsonb -> 'categorical_value')
            WHEN 'null' THEN NULL WHEN 'string' THEN body::jsonb ->> 'categorical_value'
            ELSE (body::jsonb -> 'categorical_value')::text END
        END,
    value_num = CASE body::jsonb ->> 'metric_type'
        WHEN 'boolean' THEN CASE body::jsonb -> 'boolean_value'
            WHEN 'true'::jsonb THEN 1.0 WHEN 'false'::jsonb THEN 0.0 END
        WHEN 'score' THEN CASE WHEN jsonb_typeof(body::jsonb -> 'score_value') = 'number'
            THEN (body::jsonb ->> 'score_value')::double precision END
        END,
    failed = CASE
        WHEN COALESCE(jsonb_typeof(body::jsonb -> 'error'), 'null') = 'null' THEN 0
        WHEN body::jsonb -> 'error' = '{}'::jsonb THEN 0
        ELSE 1 END;

UPDATE experiment_spans SET record_id = COALESCE((
    SELECT substr(t.value, 19) FROM jsonb_array_elements_text(body::jsonb -> 'tags')
        WITH ORDINALITY AS t(value, n)
    WHERE t.value LIKE 'dataset\_record\_id:%' ESCAPE '\'
    ORDER BY t.n LIMIT 1), '')
WHERE jsonb_typeof(body::jsonb -> 'tags') = 'array';

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
