-- The web UI's record filters and comparisons answered from indexes alone (no table row
-- read per record looked at): a record's dataset record id with its span id, and an
-- evaluation's value, source and failure both by span and by value, with its span id.
-- They replace the narrower indexes of 0009 of the same columns' prefixes. Failed
-- evaluations, which are few, get an index of their own. (By span, the value comes right
-- after the label: looking one record's evaluation up by value then matches more of this
-- index than of the one by value, and SQLite, without statistics, picks it.)
DROP INDEX experiment_spans_by_record;
DROP INDEX experiment_metrics_by_span;
DROP INDEX experiment_metrics_by_value;
CREATE INDEX experiment_spans_by_record_span
    ON experiment_spans (experiment_uuid, record_id, span_id);
CREATE INDEX experiment_metrics_by_span_value
    ON experiment_metrics (experiment_uuid, span_id, label, value_text, value_num, metric_source, failed);
CREATE INDEX experiment_metrics_by_value_span
    ON experiment_metrics (experiment_uuid, label, value_text, value_num, metric_source, span_id);
CREATE INDEX experiment_metrics_failed
    ON experiment_metrics (experiment_uuid, label, metric_source, span_id) WHERE failed = 1;
