-- New span_search rows reach the full-text index in one statement per write, which the
-- store runs after its inserts (`index` in spans.rs), instead of through a trigger per
-- row: the per-row trigger cost about 20 µs a span, more than the rest of the row.
-- Updates and deletes keep their triggers.
DROP TRIGGER span_search_text_insert;
