-- PostgreSQL searches text through a GIN index over span_search itself: nothing to change.
SELECT 1;
