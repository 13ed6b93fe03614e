//! Comparing experiments of one dataset, record by record: the dataset records of the
//! first experiment (the baseline), paged in record id order, each with every compared
//! experiment's record span and evaluations, optionally only the records whose evaluation
//! of a label moved against the baseline ([`CompareFilter`]). The join and the filter run
//! in SQL, one join walked in record order over indexes alone (migrations 0009 and 0011),
//! a bounded window of baseline records per page.

use std::collections::HashMap;

use llmobs_core::compare::{Change, CompareFilter};
use serde_json::Value;
use sqlx::Row as _;

use crate::Store;
use crate::error::{Error, Result};
use crate::experiments::{event_span, object};
use crate::keys::OrgId;
use crate::sql::{Bind, Sql};

/// One dataset record across compared experiments.
#[derive(Debug, Clone)]
pub struct JoinedRecord {
    /// Per compared experiment, in the order given: its first record span for this
    /// dataset record (experiment events' shape, with `eval_metrics`), or `None`.
    pub runs: Vec<Option<Value>>,
}

/// How many baseline records a filtered page looks at, at most: a page of a filter that
/// matches few records may hold fewer than asked for, and its next page looks on.
const COMPARE_WINDOW: i64 = 2000;

/// The SQL condition that an evaluation `om` moved from `bm` this way (as
/// [`Change::between`] decides).
fn moved(change: Change) -> &'static str {
    match change {
        Change::Regressed => "om.value_num < bm.value_num",
        Change::Improved => "om.value_num > bm.value_num",
        Change::Changed => "(om.value_num <> bm.value_num OR om.value_text <> bm.value_text)",
    }
}

impl Store {
    /// A page of the dataset records of `ids[0]` (the baseline) in record id order, after
    /// the record id `after`, each with every experiment's first record span for it and
    /// that span's evaluations; with `filter`, only records whose evaluation of its label
    /// moved that way in any other experiment, looking at no more than 2,000
    /// baseline records per page: a filtered page may hold fewer than `limit` records
    /// (even none) and still name where the next one looks on. Every experiment must be
    /// the org's.
    /// Records without a dataset record id (posted without the `dataset_record_id:` tag)
    /// cannot be joined and are left out.
    pub async fn compare_records(
        &self,
        org: &OrgId,
        ids: &[String],
        filter: Option<&CompareFilter>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<(String, JoinedRecord)>, Option<String>)> {
        for id in ids {
            self.experiment(org, id).await?;
        }
        let Some((base, others)) = ids.split_first() else {
            return Err(Error::Invalid("compare needs at least one experiment".into()));
        };
        let mut conn = self.reads().await?.acquire().await?;
        let mut sql = Sql::default();
        let base_p = sql.bind(Bind::Text(base.clone()));
        let after_p = sql.bind(Bind::Text(after.unwrap_or("").to_owned()));
        let filter = filter.filter(|_| !others.is_empty());
        let record_ids = "SELECT DISTINCT b.record_id AS record_id FROM experiment_spans b \
                          WHERE b.experiment_uuid = ";
        sql.text = match filter {
            None => {
                format!("{record_ids}{base_p} AND b.record_id <> '' AND b.record_id > {after_p}")
            }
            Some(filter) => {
                // The window of baseline records this page looks at (bounded, so a filter
                // that matches few records still answers fast), then one join of each
                // record's spans and evaluations in every experiment, walked in record
                // order. Written as CROSS JOINs, which SQLite keeps in this order.
                let window = sql.bind(Bind::Int(COMPARE_WINDOW));
                let label = sql.bind(Bind::Text(filter.label.clone()));
                let others: Vec<String> =
                    others.iter().map(|id| sql.bind(Bind::Text(id.clone()))).collect();
                format!(
                    "WITH w AS ({record_ids}{base_p} AND b.record_id <> '' \
                     AND b.record_id > {after_p} ORDER BY b.record_id LIMIT {window}) \
                     SELECT DISTINCT w.record_id FROM w CROSS JOIN experiment_spans bs \
                     CROSS JOIN experiment_metrics bm CROSS JOIN experiment_spans os \
                     CROSS JOIN experiment_metrics om \
                     WHERE bs.experiment_uuid = {base_p} AND bs.record_id = w.record_id \
                     AND bm.experiment_uuid = bs.experiment_uuid AND bm.span_id = bs.span_id \
                     AND bm.label = {label} AND bm.metric_source <> 'summary' \
                     AND os.experiment_uuid IN ({}) AND os.record_id = w.record_id \
                     AND om.experiment_uuid = os.experiment_uuid AND om.span_id = os.span_id \
                     AND om.label = {label} AND om.metric_source <> 'summary' AND {}",
                    others.join(", "),
                    moved(filter.change)
                )
            }
        };
        let limit_p = sql.bind(Bind::Int(limit as i64 + 1));
        let order = if filter.is_some() { "w.record_id" } else { "b.record_id" };
        sql.text.push_str(&format!(" ORDER BY {order} LIMIT {limit_p}"));
        let mut record_ids: Vec<String> = (sql.query().fetch_all(&mut *conn).await?.iter())
            .map(|row| row.try_get(0))
            .collect::<std::result::Result<_, _>>()?;
        let mut next = (record_ids.len() > limit).then(|| record_ids[limit - 1].clone());
        record_ids.truncate(limit);
        if filter.is_some() && next.is_none() {
            // The page is not full: the next one looks on after this window, if it was full.
            next = sqlx::query_scalar(
                "SELECT DISTINCT record_id FROM experiment_spans WHERE experiment_uuid = $1 \
                 AND record_id <> '' AND record_id > $2 ORDER BY record_id LIMIT 1 OFFSET $3",
            )
            .bind(base)
            .bind(after.unwrap_or(""))
            .bind(COMPARE_WINDOW - 1)
            .fetch_optional(&mut *conn)
            .await?;
        }
        if record_ids.is_empty() {
            return Ok((Vec::new(), next));
        }
        // Every experiment's spans of these records, then their metrics.
        let mut sql = Sql::default();
        let experiments: Vec<String> =
            ids.iter().map(|id| sql.bind(Bind::Text(id.clone()))).collect();
        let records: Vec<String> =
            record_ids.iter().map(|id| sql.bind(Bind::Text(id.clone()))).collect();
        sql.text = format!(
            "SELECT experiment_uuid, record_id, span_id, body FROM experiment_spans \
             WHERE experiment_uuid IN ({}) AND record_id IN ({}) \
             ORDER BY start_ns DESC, span_id DESC",
            experiments.join(", "),
            records.join(", ")
        );
        // Later rows overwrite: the first span (by start) of each pair stays.
        let mut first: HashMap<(String, String), (String, String)> = HashMap::new();
        for row in sql.query().fetch_all(&mut *conn).await? {
            let key = (row.try_get("experiment_uuid")?, row.try_get("record_id")?);
            first.insert(key, (row.try_get("span_id")?, row.try_get("body")?));
        }
        let mut sql = Sql::default();
        let experiments: Vec<String> =
            ids.iter().map(|id| sql.bind(Bind::Text(id.clone()))).collect();
        let spans: Vec<String> =
            first.values().map(|(span, _)| sql.bind(Bind::Text(span.clone()))).collect();
        sql.text = format!(
            "SELECT experiment_uuid, span_id, body FROM experiment_metrics \
             WHERE experiment_uuid IN ({}) AND span_id IN ({}) AND metric_source <> 'summary' \
             ORDER BY timestamp_ms, label",
            experiments.join(", "),
            spans.join(", ")
        );
        let mut metrics: HashMap<(String, String), Vec<Value>> = HashMap::new();
        for row in sql.query().fetch_all(&mut *conn).await? {
            let body: String = row.try_get("body")?;
            let value: Value = serde_json::from_str(&body)
                .map_err(|e| Error::Invalid(format!("stored metric is not JSON: {e}")))?;
            metrics
                .entry((row.try_get("experiment_uuid")?, row.try_get("span_id")?))
                .or_default()
                .push(value);
        }
        let joined = (record_ids.into_iter())
            .map(|record| {
                let runs = (ids.iter())
                    .map(|id| {
                        let Some((span_id, body)) = first.get(&(id.clone(), record.clone())) else {
                            return Ok(None);
                        };
                        let found = metrics.remove(&(id.clone(), span_id.clone()));
                        Ok(Some(event_span(object(body, "span")?, found.unwrap_or_default())))
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok((record, JoinedRecord { runs }))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((joined, next))
    }
}

#[cfg(test)]
mod tests {
    use llmobs_core::experiments::{CreateExperiment, PostEvents};
    use llmobs_core::records::{EvalCondition, EvalTest, RecordFilter};
    use serde_json::json;
    use serde_json::value::RawValue;

    use super::*;
    use crate::experiments::tests::{raw, setup};

    /// Posts one record span per `(record, exact, score)` to `experiment`, each with a
    /// boolean `exact` and a score `score`; the record `bad` fails.
    async fn post(store: &Store, org: &OrgId, experiment: &str, rows: &[(&str, bool, f64)]) {
        let mut spans = Vec::new();
        let mut metrics = Vec::new();
        for (i, (record, exact, score)) in rows.iter().enumerate() {
            let span = format!("{experiment}-{record}");
            spans.push(raw(json!({
                "trace_id": format!("t-{span}"), "span_id": span, "parent_id": "undefined",
                "name": "task", "start_ns": 1000 + i as i64, "duration": 5,
                "status": if *record == "bad" { "error" } else { "ok" },
                "meta": {"input": {"r": record}},
                "tags": [format!("dataset_record_id:{record}"), format!("experiment_id:{experiment}")]
            })));
            metrics.push(raw(json!({"span_id": span, "timestamp_ms": 1, "label": "exact",
                "metric_type": "boolean", "boolean_value": exact})));
            metrics.push(raw(json!({"span_id": span, "timestamp_ms": 1, "label": "score",
                "metric_type": "score", "score_value": score})));
        }
        let events = PostEvents {
            scope: Some("experiments".into()),
            metrics,
            tags: vec!["run_id:r".into()],
            spans,
        };
        store.post_events(org, experiment, events).await.unwrap();
    }

    async fn second_experiment(store: &Store, org: &OrgId, first: &str) -> String {
        let (_, e) = store.experiment(org, first).await.unwrap();
        let request = CreateExperiment {
            name: "e2".into(),
            description: None,
            dataset_id: e.dataset_id,
            project_id: e.project_id,
            dataset_version: None,
            config: None,
            metadata: None,
            ensure_unique: None,
            run_count: None,
            parent_experiment_id: None,
        };
        store.create_experiment(org, "u", request).await.unwrap().0
    }

    fn ids<T>(page: &[(String, T)]) -> Vec<&str> {
        page.iter().map(|(id, _)| id.as_str()).collect()
    }

    #[tokio::test]
    async fn records_join_by_dataset_record_and_filter_by_how_they_moved() {
        let s = setup().await;
        let other = second_experiment(&s.store, &s.a, &s.ea).await;
        post(&s.store, &s.a, &s.ea, &[("r1", true, 0.5), ("r2", false, 0.5), ("r3", true, 0.9)])
            .await;
        post(&s.store, &s.a, &other, &[("r1", false, 0.5), ("r2", true, 0.7), ("r3", true, 0.9)])
            .await;
        let both = [s.ea.clone(), other.clone()];
        let (all, next) = s.store.compare_records(&s.a, &both, None, None, 2).await.unwrap();
        assert_eq!(ids(&all), ["r1", "r2"]);
        assert_eq!(next.as_deref(), Some("r2"));
        let runs = &all[0].1.runs;
        assert_eq!(runs[1].as_ref().unwrap()["span_id"], json!(format!("{other}-r1")));
        assert_eq!(runs[1].as_ref().unwrap()["eval_metrics"].as_array().unwrap().len(), 2);
        let (rest, next) = s.store.compare_records(&s.a, &both, None, Some("r2"), 2).await.unwrap();
        assert_eq!((ids(&rest), next), (vec!["r3"], None));

        let by = |label: &str, change| CompareFilter { label: label.into(), change };
        let found = |f: CompareFilter| {
            let (store, org, both) = (&s.store, &s.a, &both);
            async move { store.compare_records(org, both, Some(&f), None, 10).await.unwrap().0 }
        };
        assert_eq!(ids(&found(by("exact", Change::Regressed)).await), ["r1"]);
        assert_eq!(ids(&found(by("exact", Change::Improved)).await), ["r2"]);
        assert_eq!(ids(&found(by("exact", Change::Changed)).await), ["r1", "r2"]);
        assert_eq!(ids(&found(by("score", Change::Improved)).await), ["r2"]);
        assert!(found(by("score", Change::Regressed)).await.is_empty());
        // Another org's experiment cannot be compared.
        let theirs = [s.ea.clone(), s.eb.clone()];
        assert!(s.store.compare_records(&s.a, &theirs, None, None, 10).await.is_err());
    }

    #[tokio::test]
    async fn a_filtered_comparison_looks_at_a_bounded_window_per_page() {
        let s = setup().await;
        let other = second_experiment(&s.store, &s.a, &s.ea).await;
        let n = COMPARE_WINDOW as usize + 5;
        let names: Vec<String> = (0..n).map(|i| format!("r{i:05}")).collect();
        // Only the last record regressed, past the first page's window.
        let base: Vec<(&str, bool, f64)> = names.iter().map(|r| (r.as_str(), true, 0.5)).collect();
        let mut moved = base.clone();
        moved[n - 1].1 = false;
        post(&s.store, &s.a, &s.ea, &base).await;
        post(&s.store, &s.a, &other, &moved).await;
        let both = [s.ea.clone(), other.clone()];
        let f = CompareFilter { label: "exact".into(), change: Change::Regressed };
        let (page, next) = s.store.compare_records(&s.a, &both, Some(&f), None, 10).await.unwrap();
        let window_end = names[COMPARE_WINDOW as usize - 1].clone();
        assert_eq!((ids(&page), next.as_deref()), (vec![], Some(window_end.as_str())));
        let (page, next) =
            s.store.compare_records(&s.a, &both, Some(&f), Some(&window_end), 10).await.unwrap();
        assert_eq!((ids(&page), next), (vec![names[n - 1].as_str()], None));
        // Unfiltered pages are full pages, whatever the window.
        let (page, next) = s.store.compare_records(&s.a, &both, None, None, 3).await.unwrap();
        assert_eq!(
            (ids(&page), next.as_deref()),
            (vec!["r00000", "r00001", "r00002"], Some("r00002"))
        );
    }

    #[tokio::test]
    async fn many_or_few_matching_evaluations_page_the_same_records() {
        let s = setup().await;
        // More records pass `exact` than count as few; three do not.
        let n = 2010;
        let names: Vec<String> = (0..n).map(|i| format!("r{i:05}")).collect();
        let rows: Vec<(&str, bool, f64)> = (names.iter().enumerate())
            .map(|(i, r)| (r.as_str(), !matches!(i, 7 | 1500 | 2009), i as f64 / n as f64))
            .collect();
        post(&s.store, &s.a, &s.ea, &rows).await;
        let walk =
            |filter: RecordFilter, limit: usize| {
                let (store, org, id) = (&s.store, &s.a, &s.ea);
                async move {
                    let mut seen = Vec::new();
                    let mut cursor: Option<String> = None;
                    loop {
                        let (page, next) = store
                            .experiment_records(org, id, &filter, cursor.as_deref(), limit)
                            .await
                            .unwrap();
                        seen.extend(page.iter().map(|(_, span)| {
                            span["meta"]["input"]["r"].as_str().unwrap().to_owned()
                        }));
                        match next {
                            Some(next) => cursor = Some(crate::encode_cursor(&next)),
                            None => return seen,
                        }
                    }
                }
            };
        let is = |value: &str| RecordFilter {
            eval: Some(EvalCondition { label: "exact".into(), test: EvalTest::Is(value.into()) }),
            errors: None,
        };
        assert_eq!(walk(is("false"), 2).await, ["r00007", "r01500", "r02009"]);
        let passed = walk(is("true"), 500).await;
        assert_eq!(passed.len(), n - 3);
        assert!(passed.windows(2).all(|w| w[0] < w[1]), "in start order");
        assert!(!passed.iter().any(|r| ["r00007", "r01500", "r02009"].contains(&r.as_str())));
        let top = RecordFilter {
            eval: Some(EvalCondition {
                label: "score".into(),
                test: EvalTest::Range { min: Some(2007.0 / n as f64), max: None },
            }),
            errors: None,
        };
        assert_eq!(walk(top, 1).await, ["r02007", "r02008", "r02009"]);
    }

    #[tokio::test]
    async fn an_experiments_records_filter_by_evaluation_and_error_in_sql() {
        let s = setup().await;
        post(
            &s.store,
            &s.a,
            &s.ea,
            &[("r1", true, 0.2), ("r2", false, 0.5), ("bad", true, 0.9), ("r4", true, 0.7)],
        )
        .await;
        let records = |filter: RecordFilter| {
            let (store, org, id) = (&s.store, &s.a, &s.ea);
            async move {
                let (page, _) = store.experiment_records(org, id, &filter, None, 10).await.unwrap();
                page.iter()
                    .map(|(_, span)| span["meta"]["input"]["r"].as_str().unwrap().to_owned())
                    .collect::<Vec<_>>()
            }
        };
        let eval = |label: &str, test| RecordFilter {
            eval: Some(EvalCondition { label: label.into(), test }),
            errors: None,
        };
        assert_eq!(records(eval("exact", EvalTest::Is("false".into()))).await, ["r2"]);
        assert_eq!(records(eval("exact", EvalTest::Is("true".into()))).await, ["r1", "bad", "r4"]);
        let range = EvalTest::Range { min: Some(0.5), max: Some(0.8) };
        assert_eq!(records(eval("score", range)).await, ["r2", "r4"]);
        let open = EvalTest::Range { min: None, max: Some(0.3) };
        assert_eq!(records(eval("score", open)).await, ["r1"]);
        let failed = RecordFilter { eval: None, errors: Some(true) };
        assert_eq!(records(failed).await, ["bad"]);
        let mut both = eval("exact", EvalTest::Is("true".into()));
        both.errors = Some(false);
        assert_eq!(records(both).await, ["r1", "r4"]);
        assert!(records(eval("exact", EvalTest::Failed)).await.is_empty());
        // Paging keeps the filter.
        let filter = eval("exact", EvalTest::Is("true".into()));
        let (page, next) = s.store.experiment_records(&s.a, &s.ea, &filter, None, 2).await.unwrap();
        assert_eq!(page.len(), 2);
        let cursor = crate::encode_cursor(&next.unwrap());
        let (page, next) =
            s.store.experiment_records(&s.a, &s.ea, &filter, Some(&cursor), 2).await.unwrap();
        assert_eq!((page.len(), next), (1, None));
    }

    #[tokio::test]
    async fn a_kept_summary_is_read_again_once_the_experiment_gets_events() {
        let s = setup().await;
        post(&s.store, &s.a, &s.ea, &[("r1", true, 0.2)]).await;
        let first = s.store.experiment_summary(&s.a, &s.ea).await.unwrap();
        assert_eq!(first.records, 1);
        assert_eq!(s.store.experiment_summary(&s.a, &s.ea).await.unwrap(), first);
        post(&s.store, &s.a, &s.ea, &[("r2", false, 0.4)]).await;
        let second = s.store.experiment_summary(&s.a, &s.ea).await.unwrap();
        assert_eq!(second.records, 2);
        let exact = second.labels.iter().find(|l| l.label == "exact").unwrap();
        assert_eq!(exact.aggregate.ratio(), Some(0.5));
        // Another org's key cannot read it, kept or not.
        assert!(s.store.experiment_summary(&s.b, &s.ea).await.is_err());
    }

    #[tokio::test]
    async fn a_trace_reads_its_record_span_and_children_in_start_order() {
        let s = setup().await;
        post(&s.store, &s.a, &s.ea, &[("r1", true, 0.2)]).await;
        let record = format!("{}-r1", s.ea);
        let trace = format!("t-{record}");
        let child = |id: &str, parent: &str, start: i64| {
            raw(json!({"trace_id": trace, "span_id": id, "parent_id": parent, "name": id,
                "start_ns": start, "duration": 1, "meta": {"span.kind": "llm"},
                "tags": [format!("experiment_id:{}", s.ea)]}))
        };
        let spans = [child("llm", &record, 1002), child("tool", "llm", 1003)];
        let spans: Vec<&RawValue> = spans.iter().map(|s| s.as_ref()).collect();
        s.store.ingest_spans(Some(&s.a), &spans).await.unwrap();
        let (found, more) = s.store.trace_spans(&s.a, &trace, 10).await.unwrap();
        let names: Vec<&str> = found.iter().map(|f| f.event["span_id"].as_str().unwrap()).collect();
        assert_eq!((names, more), (vec![record.as_str(), "llm", "tool"], false));
        assert_eq!(found[0].experiment_id.as_deref(), Some(s.ea.as_str()));
        let (found, more) = s.store.trace_spans(&s.a, &trace, 2).await.unwrap();
        assert_eq!((found.len(), more), (2, true));
        assert!(s.store.trace_spans(&s.b, &trace, 10).await.unwrap().0.is_empty());
    }
}
