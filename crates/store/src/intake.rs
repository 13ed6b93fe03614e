//! The span intake and the eval-metric intake: spans and metrics sent by tracing clients,
//! each kept as the JSON text received.
//!
//! A span tagged with an experiment the caller may add to joins that experiment (the
//! `experiment_spans` table of [`crate::experiments`]); any other span goes to its org's
//! trace store; every stored span is also indexed for the spans query plane
//! ([`crate::spans`]). Without a key (agent-proxy style), spans join only experiments and
//! eval metrics go to the [`DEFAULT_ORG`]. Eval metrics are stored per
//! org. On SQLite a request with spans that join an experiment goes through the
//! [`crate::journal`]: checked here, kept, and stored by the same code just after.

use std::collections::HashMap;

use serde_json::value::RawValue;
use sqlx::{AnyConnection, Connection};

use crate::batch::{Col, Insert, dedupe};
use crate::error::{Error, Result};
use crate::experiments::{Event, count_writes, event, upsert_spans};
use crate::fields::text;
use crate::journal::{Journal, Kind};
use crate::keys::{DEFAULT_ORG, OrgId};
use crate::{Store, time};

static LLMOBS_SPANS: Insert = Insert::new(
    "llmobs_spans",
    &[
        ("org_uuid", Col::Shared(1)),
        ("trace_id", Col::Row),
        ("span_id", Col::Row),
        ("body", Col::Row),
        ("received_at", Col::Shared(2)),
    ],
    "ON CONFLICT (org_uuid, trace_id, span_id) \
     DO UPDATE SET body = excluded.body, received_at = excluded.received_at",
);

static EVAL_METRICS: Insert = Insert::new(
    "eval_metrics",
    &[
        ("uuid", Col::Row),
        ("org_uuid", Col::Shared(1)),
        ("label", Col::Row),
        ("body", Col::Row),
        ("received_at", Col::Shared(2)),
    ],
    "",
);

/// What one span intake request writes.
struct IntakeSpans<'e, 'a> {
    /// The spans' entries in the spans query plane.
    index: Vec<crate::spans::Indexed<'e>>,
    attached: Vec<&'e (&'e str, &'e Event<'a>)>,
    /// Spans for an org's trace store, with that org.
    loose: Vec<&'e (&'e OrgId, &'e Event<'a>)>,
    now: &'e str,
}

/// Whether a span has a parent: opened inside another span, not a record's own.
fn is_child(span: &Event) -> bool {
    !matches!(span.fields.parent_id.as_deref(), None | Some("" | "undefined" | "0"))
}

impl<'e, 'a> IntakeSpans<'e, 'a> {
    /// The loose spans grouped by org (usually one), in key order: orgs, then trace and
    /// span ids, so batches that overlap lock rows in the same order and cannot deadlock
    /// on PostgreSQL.
    fn by_org(&self) -> Vec<(&'e OrgId, Vec<&'e Event<'a>>)> {
        let mut groups: Vec<(&OrgId, Vec<&Event>)> = Vec::new();
        for (org, span) in self.loose.iter().copied() {
            match groups.iter_mut().find(|(o, _)| o == org) {
                Some((_, rows)) => rows.push(span),
                None => groups.push((org, vec![span])),
            }
        }
        groups.sort_by(|(a, _), (b, _)| a.0.cmp(&b.0));
        for (_, rows) in &mut groups {
            rows.sort_by(|x, y| {
                (text(&x.fields.trace_id), text(&x.fields.span_id))
                    .cmp(&(text(&y.fields.trace_id), text(&y.fields.span_id)))
            });
        }
        groups
    }

    async fn write(&self, conn: &mut AnyConnection) -> Result<()> {
        upsert_spans(conn, &self.attached, self.now).await?;
        let experiments: Vec<&str> = self.attached.iter().map(|(id, _)| *id).collect();
        crate::spans::index(conn, &self.index).await?;
        for (org, rows) in self.by_org() {
            let rows: Vec<&&Event> = rows.iter().collect();
            LLMOBS_SPANS
                .run(
                    conn,
                    &rows,
                    |q| q.bind(org.0.clone()).bind(self.now.to_owned()),
                    |q, span| {
                        q.bind(text(&span.fields.trace_id).to_owned())
                            .bind(text(&span.fields.span_id).to_owned())
                            .bind(span.body.to_owned())
                    },
                )
                .await?;
        }
        count_writes(conn, &experiments).await
    }
}
impl Store {
    /// Stores spans from the span intake, each kept as the JSON text received: a span
    /// tagged `experiment_id:` of a known experiment joins that experiment, any other goes
    /// to the org's span store. Without an org (agent-proxy style, no key) only experiment
    /// spans are kept. A span given twice is stored once, as last given. Returns how many
    /// were stored. On SQLite a request with spans that join an experiment is kept in the
    /// ingest journal and stored shortly after; reads never see it missing.
    pub async fn ingest_spans(&self, org: Option<&OrgId>, spans: &[&RawValue]) -> Result<usize> {
        let events = parse_spans(spans)?;
        if events.is_empty() {
            return Ok(0);
        }
        let mut conn = self.write.acquire().await?;
        let journal = self.journal();
        let open = journal.filter(|journal| journal.open());
        let stored = store_parsed(&mut conn, org, &events, spans, &time::now(), open).await?;
        if let Some(journal) = journal {
            journal.finish(&mut conn).await?;
        }
        Ok(stored)
    }

    /// Stores metrics from the eval-metric intake, each kept as the JSON text received.
    /// Without an org (agent-proxy style, no key) they go to the [`DEFAULT_ORG`], and are
    /// refused with [`Error::NoOrg`] when there is none. Returns how many were stored.
    pub async fn ingest_eval_metrics(
        &self,
        org: Option<&OrgId>,
        metrics: &[&RawValue],
    ) -> Result<usize> {
        let org = match org {
            Some(org) => org.clone(),
            None => self.org_named(DEFAULT_ORG).await?.ok_or(Error::NoOrg)?,
        };
        let metrics = (metrics.iter().enumerate())
            .map(|(index, metric)| event(metric, "metrics", index))
            .collect::<Result<Vec<_>>>()?;
        if metrics.is_empty() {
            return Ok(0);
        }
        let now = time::now();
        let rows: Vec<&Event> = metrics.iter().collect();
        let insert = async |conn: &mut AnyConnection| {
            EVAL_METRICS
                .run(
                    conn,
                    &rows,
                    |q| q.bind(org.0.clone()).bind(now.clone()),
                    |q, metric| {
                        q.bind(uuid::Uuid::new_v4().to_string())
                            .bind(text(&metric.fields.label).to_owned())
                            .bind(metric.body.to_owned())
                    },
                )
                .await
        };
        let mut conn = self.write.acquire().await?;
        if Insert::statements(rows.len()) > 1 {
            let mut tx = conn.begin().await?;
            insert(&mut tx).await?;
            tx.commit().await?;
        } else {
            insert(&mut conn).await?;
        }
        Ok(metrics.len())
    }
}

/// The spans of a span intake request, each read once; the first that is not an object
/// fails the request.
fn parse_spans<'a>(spans: &[&'a RawValue]) -> Result<Vec<Event<'a>>> {
    (spans.iter().enumerate()).map(|(index, span)| event(span, "spans", index)).collect()
}

/// Stores a span intake request's spans (see [`Store::ingest_spans`]) in their tables, on
/// the writer `conn`, received at `now`: how [`crate::journal`] applies a kept request.
pub(crate) async fn store_spans(
    conn: &mut AnyConnection,
    org: Option<&OrgId>,
    spans: &[&RawValue],
    now: &str,
) -> Result<usize> {
    let events = parse_spans(spans)?;
    store_parsed(conn, org, &events, spans, now, None).await
}

/// Stores parsed spans on the writer `conn`; with `journal`, keeps a request with spans
/// that join an experiment there instead, after the same checks.
async fn store_parsed(
    conn: &mut AnyConnection,
    org: Option<&OrgId>,
    events: &[Event<'_>],
    raw: &[&RawValue],
    now: &str,
    journal: Option<&Journal>,
) -> Result<usize> {
    let mut experiments: Vec<&str> =
        events.iter().filter_map(|span| span.fields.experiment_id.as_deref()).collect();
    experiments.sort_unstable();
    experiments.dedup();
    if events.is_empty() || (org.is_none() && experiments.is_empty()) {
        return Ok(0);
    }
    // Which of those experiments the caller may add to, and their org: read before
    // the write.
    let mut joins: HashMap<&str, Option<OrgId>> = HashMap::with_capacity(experiments.len());
    for id in experiments {
        let owner = sqlx::query_scalar::<_, String>(
            "SELECT org_uuid FROM experiments WHERE uuid = $1 AND deleted_at IS NULL",
        )
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        let allowed = owner.filter(|owner| org.is_none_or(|org| &org.0 == owner));
        joins.insert(id, allowed.map(OrgId));
    }
    // A record's own span joins its experiment; a child span opened inside a task (it
    // has a parent) goes to the trace store of the experiment's org, so experiment
    // events list one span per record.
    let mut attached: Vec<(&str, &Event)> = Vec::new();
    let mut loose: Vec<(&OrgId, &Event)> = Vec::new();
    for span in events {
        let joined =
            span.fields.experiment_id.as_deref().and_then(|id| Some((id, joins[id].as_ref()?)));
        match (joined, org) {
            (Some((id, _)), _) if !is_child(span) => attached.push((id, span)),
            (Some((_, owner)), _) => loose.push((owner, span)),
            (None, Some(org)) => loose.push((org, span)),
            (None, None) => {}
        }
    }
    let stored = attached.len() + loose.len();
    if let Some(journal) = journal.filter(|_| !attached.is_empty()) {
        journal.keep(conn, Kind::Spans, org, None, &raw, now).await?;
        return Ok(stored);
    }
    let attached = dedupe(&attached, |(id, span)| (*id, text(&span.fields.span_id)));
    let loose = dedupe(&loose, |(org, span)| {
        (org.0.as_str(), text(&span.fields.trace_id), text(&span.fields.span_id))
    });
    let index = (attached.iter())
        .filter_map(|(id, span)| {
            let org = joins[id].as_ref()?;
            Some(crate::spans::Indexed { org: &org.0, experiment: id, body: span.body })
        })
        .chain(loose.iter().map(|(org, span)| crate::spans::Indexed {
            org: &org.0,
            experiment: "",
            body: span.body,
        }))
        .collect();
    let spans = IntakeSpans { index, attached, loose, now };
    let loose_statements: usize =
        spans.by_org().iter().map(|(_, rows)| Insert::statements(rows.len())).sum();
    // Attached spans also count a write of their experiments (`count_writes`).
    let counted = usize::from(!spans.attached.is_empty());
    if Insert::statements(spans.attached.len())
        + counted
        + loose_statements
        + crate::spans::statements(spans.index.len())
        > 1
    {
        let mut tx = conn.begin().await?;
        spans.write(&mut tx).await?;
        tx.commit().await?;
    } else {
        spans.write(conn).await?;
    }
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use serde_json::value::RawValue;

    use crate::experiments::tests::{bodies, count, raw, setup, span};

    #[tokio::test]
    async fn intake_attaches_only_spans_of_the_callers_experiments() {
        let s = setup().await;
        let spans = [
            raw(span(Some(&s.ea), "t1", "own", "n")),
            raw(span(Some(&s.eb), "t1", "others", "n")),
            raw(span(Some("00000000-0000-4000-8000-000000000000"), "t1", "unknown", "n")),
            raw(span(None, "t1", "plain", "n")),
        ];
        let spans: Vec<&RawValue> = spans.iter().map(|s| &**s).collect();
        assert_eq!(s.store.ingest_spans(Some(&s.a), &spans).await.unwrap(), 4);
        let attached = "SELECT body FROM experiment_spans WHERE experiment_uuid = $1";
        let own = bodies(&s.store, attached, &s.ea).await;
        assert_eq!(own.iter().map(|s| &s["span_id"]).collect::<Vec<_>>(), [&json!("own")]);
        assert!(bodies(&s.store, attached, &s.eb).await.is_empty(), "not attached to b's");
        let loose = "SELECT span_id FROM llmobs_spans WHERE org_uuid = $1 ORDER BY span_id";
        let loose: Vec<String> = sqlx::query_scalar(loose)
            .bind(&s.a.0)
            .fetch_all(s.store.reads().await.unwrap())
            .await
            .unwrap();
        assert_eq!(loose, ["others", "plain", "unknown"]);

        // Without a key (agent proxy), a span joins any experiment; others are dropped.
        assert_eq!(s.store.ingest_spans(None, &spans).await.unwrap(), 2);
        assert_eq!(bodies(&s.store, attached, &s.eb).await.len(), 1);
        let none = "SELECT COUNT(*) FROM llmobs_spans WHERE org_uuid = $1";
        assert_eq!(count(&s.store, none, &s.b.0).await, 0);
        assert_eq!(s.store.ingest_spans(None, &[]).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn child_spans_go_to_the_trace_store_of_the_experiments_org() {
        let s = setup().await;
        let child = |parent: &str, id: &str| {
            let mut span = span(Some(&s.ea), "t9", id, "llm");
            span["parent_id"] = json!(parent);
            raw(span)
        };
        let spans =
            [raw(span(Some(&s.ea), "t9", "root", "task")), child("root", "c1"), child("c1", "c2")];
        let spans: Vec<&RawValue> = spans.iter().map(|s| &**s).collect();
        // Keyless (agent proxy): children still land in the owner's store.
        assert_eq!(s.store.ingest_spans(None, &spans).await.unwrap(), 3);
        let attached = "SELECT body FROM experiment_spans WHERE experiment_uuid = $1";
        let own = bodies(&s.store, attached, &s.ea).await;
        assert_eq!(own.iter().map(|s| &s["span_id"]).collect::<Vec<_>>(), [&json!("root")]);
        let loose = "SELECT span_id FROM llmobs_spans WHERE org_uuid = $1 ORDER BY span_id";
        let loose: Vec<String> = sqlx::query_scalar(loose)
            .bind(&s.a.0)
            .fetch_all(s.store.reads().await.unwrap())
            .await
            .unwrap();
        assert_eq!(loose, ["c1", "c2"]);
        let events = s.store.experiment_events(&s.a, &s.ea).await.unwrap();
        assert_eq!(events.spans.len(), 1);
    }

    #[tokio::test]
    async fn keyless_eval_metrics_go_to_the_default_org_or_are_refused() {
        let s = setup().await;
        let metric = raw(json!({"label": "m"}));
        let err = s.store.ingest_eval_metrics(None, &[&*metric]).await.unwrap_err();
        assert!(matches!(err, crate::Error::NoOrg), "{err}");
        let stored = "SELECT COUNT(*) FROM eval_metrics WHERE org_uuid = $1";
        let default = s
            .store
            .create_org_keys(crate::DEFAULT_ORG, "default-api-key", "default-app-key")
            .await
            .unwrap();
        assert_eq!(s.store.ingest_eval_metrics(None, &[&*metric]).await.unwrap(), 1);
        assert_eq!(count(&s.store, stored, &default.org.0).await, 1);
        assert_eq!(count(&s.store, stored, &s.a.0).await, 0);
    }
}
