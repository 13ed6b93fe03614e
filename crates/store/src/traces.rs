//! One trace's spans, for the trace page: every span the org's store holds with that
//! trace id (its trace store's, and experiments' record spans), read through the
//! `span_search` index by trace, in start order, bounded.

use sqlx::Row as _;

use crate::Store;
use crate::error::Result;
use crate::keys::OrgId;
use crate::spans::FoundSpan;

impl Store {
    /// The spans of the org's trace `trace_id` in start order, at most `limit`, and
    /// whether it has more.
    pub async fn trace_spans(
        &self,
        org: &OrgId,
        trace_id: &str,
        limit: usize,
    ) -> Result<(Vec<FoundSpan>, bool)> {
        let rows = sqlx::query(
            "SELECT s.experiment_uuid, COALESCE(e.body, l.body) AS body FROM \
             (SELECT seq, start_ns, experiment_uuid, org_uuid, trace_id, span_id FROM span_search \
              WHERE org_uuid = $1 AND trace_id = $2 ORDER BY start_ns, seq LIMIT $3) s \
             LEFT JOIN experiment_spans e ON s.experiment_uuid <> '' \
             AND e.experiment_uuid = s.experiment_uuid AND e.span_id = s.span_id \
             LEFT JOIN llmobs_spans l ON s.experiment_uuid = '' AND l.org_uuid = s.org_uuid \
             AND l.trace_id = s.trace_id AND l.span_id = s.span_id \
             ORDER BY s.start_ns, s.seq",
        )
        .bind(&org.0)
        .bind(trace_id)
        .bind(limit as i64 + 1)
        .fetch_all(self.reads().await?)
        .await?;
        let more = rows.len() > limit;
        let mut spans = Vec::with_capacity(rows.len().min(limit));
        for row in rows.iter().take(limit) {
            let Some(body) = row.try_get::<Option<String>, _>("body")? else { continue };
            let experiment: String = row.try_get("experiment_uuid")?;
            spans.push(FoundSpan {
                event: serde_json::from_str(&body).unwrap_or_default(),
                experiment_id: (!experiment.is_empty()).then_some(experiment),
            });
        }
        Ok((spans, more))
    }
}
