//! The spans query plane: the `span_search` table that indexes every stored span, written
//! alongside the span itself, and searches over it.
//!
//! Every span the store keeps (an experiment's, in `experiment_spans`, or one of an org's
//! trace store, in `llmobs_spans`) gets a row in `span_search` in the same write, holding
//! the fields searches filter on and the input and output text. Full-text search is SQLite
//! FTS5 or a PostgreSQL GIN index over `to_tsvector('simple', content)`. On SQLite, the
//! rows a write adds reach FTS5 in one statement at the end of [`index`] (a trigger per
//! row cost more than the row itself); updates and deletes reach it through triggers.
//! A search compiles a [`Query`] to SQL with bound parameters (no user text in the SQL),
//! filters, sorts and pages in the database, and reads the bodies of one page only.

use llmobs_core::search::{Query, Term, Value as Word};
use llmobs_core::spans::{SpanOrder, SpanSearch};
use serde_json::{Map, Value};
use sqlx::{AnyConnection, Row as _};

use crate::batch::{Col, Insert};
use crate::error::{Error, Result};
use crate::keys::OrgId;
use crate::sql::{Bind, Conditions, Sql, like_literal, like_wildcard};
use crate::{Store, time};

mod row;

use row::SpanFields;

/// The most bytes of input and output text a span's full-text entry keeps.
const MAX_CONTENT_BYTES: usize = 32 * 1024;

static SPAN_SEARCH: Insert = Insert::new(
    "span_search",
    &[
        ("org_uuid", Col::Row),
        ("experiment_uuid", Col::Row),
        ("trace_key", Col::Row),
        ("trace_id", Col::Row),
        ("span_id", Col::Row),
        ("parent_id", Col::Row),
        ("start_ns", Col::Row),
        ("duration_ns", Col::Row),
        ("kind", Col::Row),
        ("name", Col::Row),
        ("ml_app", Col::Row),
        ("status", Col::Row),
        ("session_id", Col::Row),
        ("model_name", Col::Row),
        ("model_provider", Col::Row),
        ("tags", Col::Row),
        ("content", Col::Row),
    ],
    "ON CONFLICT (org_uuid, span_id, experiment_uuid, trace_key) DO UPDATE SET \
     trace_id = excluded.trace_id, parent_id = excluded.parent_id, \
     start_ns = excluded.start_ns, duration_ns = excluded.duration_ns, kind = excluded.kind, \
     name = excluded.name, ml_app = excluded.ml_app, status = excluded.status, \
     session_id = excluded.session_id, model_name = excluded.model_name, \
     model_provider = excluded.model_provider, tags = excluded.tags, content = excluded.content",
);

/// A stored span to index: its org, its experiment (`""` for the trace store) and its
/// body as stored.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Indexed<'a> {
    pub org: &'a str,
    pub experiment: &'a str,
    pub body: &'a str,
}

/// The `span_search` row of a span: where it is stored and what it holds.
struct IndexRow<'a> {
    org: &'a str,
    experiment: &'a str,
    fields: SpanFields<'a>,
}

impl<'a> IndexRow<'a> {
    fn of(span: &Indexed<'a>) -> IndexRow<'a> {
        let mut fields = SpanFields::of(span.body);
        if fields.content.len() > MAX_CONTENT_BYTES {
            let mut cut = MAX_CONTENT_BYTES;
            while !fields.content.is_char_boundary(cut) {
                cut -= 1;
            }
            fields.content.truncate(cut);
        }
        IndexRow { org: span.org, experiment: span.experiment, fields }
    }
}

/// How many statements indexing `spans` spans takes (at most).
pub(crate) fn statements(spans: usize) -> usize {
    match spans {
        0 => 0,
        // The inserts, and on SQLite the newest row before them and the full-text insert.
        _ => Insert::statements(spans) + 2,
    }
}

/// Indexes stored spans, inside the caller's transaction (which [`statements`] tells it
/// to open). Each span appears once in `spans`.
pub(crate) async fn index(conn: &mut AnyConnection, spans: &[Indexed<'_>]) -> Result<()> {
    if spans.is_empty() {
        return Ok(());
    }
    // On SQLite, the rows this write adds are those after the newest one now (rowids grow,
    // and this connection is the only writer); they reach FTS5 in one statement below.
    let sqlite = conn.backend_name() == "SQLite";
    let newest: i64 = match sqlite {
        true => {
            sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM span_search")
                .fetch_one(&mut *conn)
                .await?
        }
        false => 0,
    };
    let mut rows: Vec<IndexRow> = spans.iter().map(IndexRow::of).collect();
    // In key order, so batches that overlap cannot deadlock on PostgreSQL.
    rows.sort_by(|a, b| {
        (a.org, &a.fields.span_id, a.experiment, &a.fields.trace_id).cmp(&(
            b.org,
            &b.fields.span_id,
            b.experiment,
            &b.fields.trace_id,
        ))
    });
    SPAN_SEARCH
        .run(
            conn,
            &rows,
            |q| q,
            |q, row| {
                let f = &row.fields;
                let trace_key = if row.experiment.is_empty() { &*f.trace_id } else { "" };
                q.bind(row.org.to_owned())
                    .bind(row.experiment.to_owned())
                    .bind(trace_key.to_owned())
                    .bind(f.trace_id.to_string())
                    .bind(f.span_id.to_string())
                    .bind(f.parent_id.to_string())
                    .bind(f.start_ns)
                    .bind(f.duration_ns)
                    .bind(f.kind.to_string())
                    .bind(f.name.to_string())
                    .bind(f.ml_app.to_string())
                    .bind(f.status.to_string())
                    .bind(f.session_id.to_string())
                    .bind(f.model_name.to_string())
                    .bind(f.model_provider.to_string())
                    .bind(f.tags.clone())
                    .bind(f.content.clone())
            },
        )
        .await?;
    if sqlite {
        sqlx::query(
            "INSERT INTO span_search_text (rowid, content) \
             SELECT seq, content FROM span_search WHERE seq > $1",
        )
        .bind(newest)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A stored span found by a search.
#[derive(Debug, Clone)]
pub struct FoundSpan {
    /// The span event as stored.
    pub event: Map<String, Value>,
    /// The experiment it belongs to, if any.
    pub experiment_id: Option<String>,
}

/// A page of spans and the cursor of the next one.
#[derive(Debug, Clone)]
pub struct SpanPage {
    /// The spans, in order.
    pub spans: Vec<FoundSpan>,
    /// The next page's cursor, when there may be more.
    pub after: Option<String>,
}

/// The fields a query may name, with the column each reads.
const FIELDS: &[(&str, &str)] = &[
    ("trace_id", "trace_id"),
    ("span_id", "span_id"),
    ("parent_id", "parent_id"),
    ("ml_app", "ml_app"),
    ("name", "name"),
    ("span_name", "name"),
    ("resource_name", "name"),
    ("kind", "kind"),
    ("span_kind", "kind"),
    ("meta.span.kind", "kind"),
    ("span.kind", "kind"),
    ("status", "status"),
    ("session_id", "session_id"),
    ("model_name", "model_name"),
    ("meta.model_name", "model_name"),
    ("model_provider", "model_provider"),
    ("meta.model_provider", "model_provider"),
    ("duration", "duration_ns"),
    ("start_ns", "start_ns"),
];

/// Which SQL dialect a query is compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Sqlite,
    Postgres,
}

/// A span search's SQL under construction, for one dialect.
struct SpanSql {
    sql: Sql,
    dialect: Dialect,
}

impl std::ops::Deref for SpanSql {
    type Target = Sql;

    fn deref(&self) -> &Sql {
        &self.sql
    }
}

impl std::ops::DerefMut for SpanSql {
    fn deref_mut(&mut self) -> &mut Sql {
        &mut self.sql
    }
}

impl SpanSql {
    fn text(&mut self, value: impl Into<String>) -> String {
        self.bind(Bind::Text(value.into()))
    }
}

/// The words of a text as the full-text indexes split it (letters and digits).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Whether a free-text word is a prefix search (`word*`).
fn is_prefix(word: &Word) -> bool {
    matches!(word, Word::Wildcard(t) if t.ends_with('*') && !t[..t.len() - 1].contains(['*', '?']))
}

/// The FTS5 query of a free-text word: its words as a phrase (a prefix phrase for
/// `word*`); `None` when the word is searched by pattern instead (an inner wildcard, or
/// no letters or digits).
fn fts_match(word: &Word) -> Option<String> {
    let terms = words(word.text());
    if terms.is_empty() || matches!(word, Word::Wildcard(_)) && !is_prefix(word) {
        return None;
    }
    let star = if is_prefix(word) { "*" } else { "" };
    Some(format!("content : \"{}\"{star}", terms.join(" ")))
}

/// The FTS5 query all matches must satisfy: the free-text words ANDed at the top of the
/// query (`None` when there are none).
fn required_text(query: &Query) -> Option<String> {
    let items: Vec<&Query> = match query {
        Query::And(items) => items.iter().collect(),
        other => vec![other],
    };
    let found: Vec<String> = items
        .into_iter()
        .filter_map(|item| match item {
            Query::Term(Term::Text(word)) => fts_match(word),
            _ => None,
        })
        .map(|m| format!("({m})"))
        .collect();
    (!found.is_empty()).then(|| found.join(" AND "))
}

/// Below this many full-text matches, a search starts from the full-text index and sorts
/// the matches; above, it walks the time (or other) index and checks each row, which
/// finds a page of a common word quickly.
const DRIVER_MATCHES: i64 = 5000;

/// A numeric comparison written as a field value: `>N`, `>=N`, `<N`, `<=N`.
fn comparison(text: &str) -> Option<(&'static str, i64)> {
    for op in [">=", "<=", ">", "<"] {
        if let Some(number) = text.strip_prefix(op) {
            return number.parse().ok().map(|n| (op, n));
        }
    }
    None
}

/// The condition of a span query, on the row alias `s`.
impl Conditions for SpanSql {
    fn sql_text(&mut self) -> &mut String {
        &mut self.sql.text
    }

    fn term(&mut self, term: &Term) -> Result<()> {
        match term {
            Term::Text(word) => self.free_text(word),
            Term::Field { name, at, value } => self.field(name, *at, value)?,
        }
        Ok(())
    }
}

impl SpanSql {
    fn free_text(&mut self, word: &Word) {
        let terms = words(word.text());
        let prefix = is_prefix(word);
        if fts_match(word).is_none() {
            // An infix wildcard, or no words at all: a pattern over the text.
            let pattern = match word {
                Word::Wildcard(p) => format!("%{}%", like_wildcard(p)),
                other => format!("%{}%", like_literal(other.text())),
            };
            let p = self.text(pattern);
            self.text.push_str(&format!("s.content LIKE {p} ESCAPE '\\'"));
            return;
        }
        match self.dialect {
            Dialect::Sqlite => {
                // A single word is checked per row with a rowid seek, so a walk in time
                // order stops as soon as a page is full. A phrase or a prefix costs more
                // per check (several position or term lists), so its matches are listed
                // once and the walk tests membership. A rare word or phrase drives the
                // search instead (`DRIVER_MATCHES`).
                let p = self.text(fts_match(word).unwrap_or_default());
                if terms.len() == 1 && !prefix {
                    self.text.push_str(&format!(
                        "EXISTS (SELECT 1 FROM span_search_text WHERE span_search_text MATCH {p} \
                         AND span_search_text.rowid = s.seq)"
                    ));
                } else {
                    self.text.push_str(&format!(
                        "s.seq IN (SELECT rowid FROM span_search_text WHERE span_search_text MATCH {p})"
                    ));
                }
            }
            Dialect::Postgres => {
                let mut tsquery = terms.join(" <-> ");
                if prefix {
                    tsquery.push_str(":*");
                }
                let p = self.text(tsquery);
                self.text.push_str(&format!(
                    "to_tsvector('simple', s.content) @@ to_tsquery('simple', {p})"
                ));
            }
        }
    }

    fn field(&mut self, name: &str, at: bool, value: &Word) -> Result<()> {
        let column = FIELDS.iter().find(|(field, _)| *field == name).map(|(_, c)| *c);
        if name == "experiment_id" {
            let id = value.text().to_owned();
            let a = self.text(id.clone());
            let b = self.text(format!("%|experiment\\_id:{}|%", like_literal(&id)));
            self.text
                .push_str(&format!("(s.experiment_uuid = {a} OR s.tags LIKE {b} ESCAPE '\\')"));
            return Ok(());
        }
        match column {
            Some(column @ ("duration_ns" | "start_ns")) => {
                let text = value.text();
                let (op, number) = match (comparison(text), text.parse::<i64>()) {
                    (Some(found), _) => found,
                    (None, Ok(n)) => ("=", n),
                    _ => {
                        return Err(Error::Invalid(format!(
                            "filter[query]: '{name}:{text}' needs a number of nanoseconds, \
                             optionally after >, >=, < or <="
                        )));
                    }
                };
                let p = self.bind(Bind::Int(number));
                self.text.push_str(&format!("s.{column} {op} {p}"));
            }
            Some(column) => match value {
                Word::Wildcard(pattern) => {
                    let p = self.text(like_wildcard(pattern));
                    self.text.push_str(&format!("s.{column} LIKE {p} ESCAPE '\\'"));
                }
                other => {
                    let p = self.text(other.text());
                    self.text.push_str(&format!("s.{column} = {p}"));
                }
            },
            None if at => {
                let known: Vec<&str> = FIELDS.iter().map(|(f, _)| *f).collect();
                return Err(Error::Invalid(format!(
                    "filter[query]: unknown attribute '@{name}': search @{} or experiment_id, \
                     or a tag as key:value",
                    known.join(", @")
                )));
            }
            None => {
                // A tag, `key:value`.
                let pattern = match value {
                    Word::Wildcard(p) => like_wildcard(p),
                    other => like_literal(other.text()),
                };
                let p = self.text(format!("%|{}:{pattern}|%", like_literal(name)));
                self.text.push_str(&format!("s.tags LIKE {p} ESCAPE '\\'"));
            }
        }
        Ok(())
    }
}

/// The cursor of the page after the span `(value, seq)`.
fn cursor(sort: &str, value: i64, seq: i64) -> String {
    hex::encode(format!("{sort}|{value}|{seq}"))
}

fn bad_cursor() -> Error {
    Error::Invalid(
        "page[cursor]: not a cursor of this search; pass meta.page.after of the previous \
         page unchanged, with the same sort"
            .into(),
    )
}

/// The `(value, seq)` a cursor continues after, checked against the sort.
fn read_cursor(text: &str, sort: &str) -> Result<(i64, i64)> {
    let bytes = hex::decode(text).map_err(|_| bad_cursor())?;
    let text = String::from_utf8(bytes).map_err(|_| bad_cursor())?;
    let mut parts = text.split('|');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(s), Some(value), Some(seq), None) if s == sort => {
            Ok((value.parse().map_err(|_| bad_cursor())?, seq.parse().map_err(|_| bad_cursor())?))
        }
        _ => Err(bad_cursor()),
    }
}

impl Store {
    /// A page of the org's spans matching `search`, newest first by default.
    pub async fn search_spans(&self, org: &OrgId, search: &SpanSearch) -> Result<SpanPage> {
        if !(1..=llmobs_core::spans::MAX_PAGE_LIMIT).contains(&search.limit) {
            return Err(Error::Invalid(format!(
                "page[limit]: must be between 1 and {}",
                llmobs_core::spans::MAX_PAGE_LIMIT
            )));
        }
        let mut conn = self.reads().await?.acquire().await?;
        let dialect =
            if conn.backend_name() == "SQLite" { Dialect::Sqlite } else { Dialect::Postgres };
        let mut sql = SpanSql { sql: Sql::default(), dialect };
        let column = match search.order {
            SpanOrder::Start => "start_ns",
            SpanOrder::Duration => "duration_ns",
        };
        let (direction, compare) = if search.descending { ("DESC", "<") } else { ("ASC", ">") };
        let org_p = sql.text(org.0.clone());
        let from_p = sql.bind(Bind::Int(search.from_ns));
        let to_p = sql.bind(Bind::Int(search.to_ns));
        // SQLite: a rare word is looked up in the full-text index first (the planner cannot
        // tell a rare word from a common one).
        let mut source = "span_search s".to_owned();
        if dialect == Dialect::Sqlite
            && let Some(text) = required_text(&search.query)
        {
            let matches: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM (SELECT rowid FROM span_search_text \
                 WHERE span_search_text MATCH $1 LIMIT $2)",
            )
            .bind(&text)
            .bind(DRIVER_MATCHES + 1)
            .fetch_one(&mut *conn)
            .await?;
            if matches <= DRIVER_MATCHES {
                let p = sql.text(text);
                source = format!(
                    "(SELECT rowid AS driver FROM span_search_text WHERE span_search_text \
                     MATCH {p}) t CROSS JOIN span_search s ON s.seq = t.driver"
                );
            }
        }
        sql.text = format!(
            "SELECT s.seq, s.{column} AS sort_value, s.experiment_uuid, \
             COALESCE(e.body, l.body) AS body FROM (SELECT s.seq, s.{column}, s.experiment_uuid, \
             s.org_uuid, s.trace_id, s.span_id FROM {source} WHERE s.org_uuid = {org_p} \
             AND s.start_ns >= {from_p} AND s.start_ns <= {to_p} AND "
        );
        sql.condition(&search.query)?;
        if let Some(text) = &search.cursor {
            let (value, seq) = read_cursor(text, search.sort_name())?;
            let v = sql.bind(Bind::Int(value));
            let q = sql.bind(Bind::Int(seq));
            sql.text.push_str(&format!(
                " AND (s.{column} {compare} {v} OR (s.{column} = {v} AND s.seq {compare} {q}))"
            ));
        }
        let limit = sql.bind(Bind::Int(search.limit + 1));
        sql.text.push_str(&format!(
            " ORDER BY s.{column} {direction}, s.seq {direction} LIMIT {limit}) s \
             LEFT JOIN experiment_spans e ON s.experiment_uuid <> '' \
             AND e.experiment_uuid = s.experiment_uuid AND e.span_id = s.span_id \
             LEFT JOIN llmobs_spans l ON s.experiment_uuid = '' AND l.org_uuid = s.org_uuid \
             AND l.trace_id = s.trace_id AND l.span_id = s.span_id \
             ORDER BY s.{column} {direction}, s.seq {direction}"
        ));
        let rows = sql.query().fetch_all(&mut *conn).await?;
        let mut spans = Vec::with_capacity(rows.len());
        let mut last = None;
        for row in rows.iter().take(search.limit as usize) {
            let seq: i64 = row.try_get("seq")?;
            let value: i64 = row.try_get("sort_value")?;
            last = Some((value, seq));
            let body: Option<String> = row.try_get("body")?;
            let Some(body) = body else { continue };
            let experiment: String = row.try_get("experiment_uuid")?;
            spans.push(FoundSpan {
                event: serde_json::from_str(&body).unwrap_or_default(),
                experiment_id: (!experiment.is_empty()).then_some(experiment),
            });
        }
        let after = match last {
            Some((value, seq)) if rows.len() as i64 > search.limit => {
                Some(cursor(search.sort_name(), value, seq))
            }
            _ => None,
        };
        Ok(SpanPage { spans, after })
    }
}

/// A sampled span's input, for topic discovery.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanInput {
    /// The span.
    pub span_id: String,
    /// Its trace.
    pub trace_id: String,
    /// Its session (empty when none).
    pub session_id: String,
    /// Its input text.
    pub input: String,
    /// `duration` (ns), `status` and the token and cost metrics it has, as JSON.
    pub metrics: Map<String, Value>,
}

/// Whether a span is in a sample of `ratio`: a seeded hash of its id, so a span is in or
/// out of every sample with the same seed.
fn sampled(span_id: &str, seed: u64, ratio: f64) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    let mut h = seed ^ 0xCBF2_9CE4_8422_2325;
    for byte in span_id.bytes() {
        h = (h ^ u64::from(byte)).wrapping_mul(0x0100_0000_01B3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    (h as f64) < ratio * (u64::MAX as f64)
}

/// How many bodies are read per statement when sampling.
const SAMPLE_READ: usize = 500;

impl Store {
    /// Up to `limit` inputs of the org's spans matching `query`, newest first, from a
    /// sample of `ratio` of them (by a seeded hash of the span id). Spans without input
    /// text are skipped.
    pub async fn sample_span_inputs(
        &self,
        org: &OrgId,
        query: &Query,
        ratio: f64,
        limit: usize,
        seed: u64,
    ) -> Result<Vec<SpanInput>> {
        let mut conn = self.reads().await?.acquire().await?;
        let dialect =
            if conn.backend_name() == "SQLite" { Dialect::Sqlite } else { Dialect::Postgres };
        let mut sql = SpanSql { sql: Sql::default(), dialect };
        let org_p = sql.text(org.0.clone());
        sql.text =
            format!("SELECT s.seq, s.span_id FROM span_search s WHERE s.org_uuid = {org_p} AND ");
        sql.condition(query)?;
        sql.text.push_str(" ORDER BY s.start_ns DESC, s.seq DESC");
        let rows = sql.query().fetch_all(&mut *conn).await?;
        let mut chosen: Vec<i64> = Vec::new();
        for row in &rows {
            let span_id: String = row.try_get("span_id")?;
            if sampled(&span_id, seed, ratio) {
                chosen.push(row.try_get("seq")?);
            }
        }
        drop(rows);
        let mut out = Vec::with_capacity(limit.min(chosen.len()));
        for chunk in chosen.chunks(SAMPLE_READ) {
            if out.len() >= limit {
                break;
            }
            let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
            let text = format!(
                "SELECT s.seq, s.span_id, s.trace_id, s.session_id, s.status, s.duration_ns, \
                 COALESCE(e.body, l.body) AS body FROM span_search s \
                 LEFT JOIN experiment_spans e ON s.experiment_uuid <> '' \
                 AND e.experiment_uuid = s.experiment_uuid AND e.span_id = s.span_id \
                 LEFT JOIN llmobs_spans l ON s.experiment_uuid = '' AND l.org_uuid = s.org_uuid \
                 AND l.trace_id = s.trace_id AND l.span_id = s.span_id \
                 WHERE s.seq IN ({})",
                list.join(", ")
            );
            // Only integers of our own read go into the text.
            let found = sqlx::query(sqlx::AssertSqlSafe(text)).fetch_all(&mut *conn).await?;
            let mut by_seq = std::collections::HashMap::with_capacity(found.len());
            for row in found {
                by_seq.insert(row.try_get::<i64, _>("seq")?, row);
            }
            for seq in chunk {
                let Some(row) = by_seq.get(seq) else { continue };
                let Some(body) = row.try_get::<Option<String>, _>("body")? else { continue };
                let event: Map<String, Value> = serde_json::from_str(&body).unwrap_or_default();
                let input = llmobs_core::spans::input_text(&event).trim().to_owned();
                if input.is_empty() {
                    continue;
                }
                let mut metrics = Map::new();
                metrics
                    .insert("duration".into(), Value::from(row.try_get::<i64, _>("duration_ns")?));
                metrics.insert("status".into(), Value::from(row.try_get::<String, _>("status")?));
                if let Some(Value::Object(numbers)) = event.get("metrics") {
                    for key in
                        ["input_tokens", "output_tokens", "total_tokens", "estimated_total_cost"]
                    {
                        if let Some(n) = numbers.get(key).filter(|n| n.is_number()) {
                            metrics.insert(key.into(), n.clone());
                        }
                    }
                }
                out.push(SpanInput {
                    span_id: row.try_get("span_id")?,
                    trace_id: row.try_get("trace_id")?,
                    session_id: row.try_get("session_id")?,
                    input,
                    metrics,
                });
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }
}

/// Nanoseconds since the epoch now.
pub fn now_ns() -> i64 {
    time::now_ns()
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use serde_json::value::RawValue;

    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_other_sorts() {
        let c = cursor("-timestamp", 42, 7);
        assert_eq!(read_cursor(&c, "-timestamp").unwrap(), (42, 7));
        assert!(read_cursor(&c, "duration").is_err());
        assert!(read_cursor("zz", "-timestamp").is_err());
    }

    fn span(trace: &str, id: &str, start: i64, app: &str, kind: &str, text: &str) -> Box<RawValue> {
        let body = json!({"trace_id": trace, "span_id": id, "parent_id": "undefined",
            "name": format!("{kind}-op"), "start_ns": start, "duration": start % 7,
            "status": if start % 2 == 0 { "ok" } else { "error" },
            "meta": {"span": {"kind": kind}, "input": {"value": text}, "output": {"value": "done"}},
            "tags": [format!("ml_app:{app}"), "env:prod"]});
        RawValue::from_string(body.to_string()).unwrap()
    }

    fn search(query: &str) -> SpanSearch {
        SpanSearch {
            from_ns: 0,
            to_ns: i64::MAX,
            query: llmobs_core::search::parse(query).unwrap(),
            order: SpanOrder::Start,
            descending: true,
            limit: 100,
            cursor: None,
        }
    }

    async fn ids(store: &Store, org: &OrgId, search: &SpanSearch) -> Vec<String> {
        let page = store.search_spans(org, search).await.unwrap();
        page.spans.iter().map(|s| s.event["span_id"].as_str().unwrap().to_owned()).collect()
    }

    #[tokio::test]
    async fn the_text_index_follows_inserts_and_updates_across_writes() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::test_db::open(dir.path()).await;
        let a = store.create_org_keys("a", "org-a-api-key", "org-a-app-key").await.unwrap().org;
        let first = [
            span("t1", "s1", 10, "app", "llm", "apples"),
            span("t1", "s2", 11, "app", "llm", "pears"),
        ];
        let refs: Vec<&RawValue> = first.iter().map(|s| &**s).collect();
        store.ingest_spans(Some(&a), &refs).await.unwrap();
        // A later write: one new span, one stored again with other text.
        let second = [
            span("t1", "s3", 12, "app", "llm", "plums"),
            span("t1", "s1", 10, "app", "llm", "figs"),
        ];
        let refs: Vec<&RawValue> = second.iter().map(|s| &**s).collect();
        store.ingest_spans(Some(&a), &refs).await.unwrap();
        assert!(ids(&store, &a, &search("apples")).await.is_empty());
        assert_eq!(ids(&store, &a, &search("figs")).await, ["s1"]);
        assert_eq!(ids(&store, &a, &search("pears")).await, ["s2"]);
        assert_eq!(ids(&store, &a, &search("plums")).await, ["s3"]);
        assert_eq!(ids(&store, &a, &search("done")).await.len(), 3);
        // SQLite's FTS5 table checks itself against span_search; PostgreSQL's text index is
        // an expression index, kept by the database.
        if std::env::var("LLMOBS_TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty()) {
            return;
        }
        sqlx::query("INSERT INTO span_search_text (span_search_text) VALUES ('integrity-check')")
            .execute(&store.write)
            .await
            .expect("the full-text index matches span_search");
    }

    #[tokio::test]
    async fn searches_filter_page_and_stay_in_their_org() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::test_db::open(dir.path()).await;
        let a = store.create_org_keys("a", "org-a-api-key", "org-a-app-key").await.unwrap().org;
        let b = store.create_org_keys("b", "org-b-api-key", "org-b-app-key").await.unwrap().org;
        let spans: Vec<Box<RawValue>> = (0..40)
            .map(|i| {
                let app = if i % 4 == 0 { "shop" } else { "bank" };
                let kind = if i % 3 == 0 { "llm" } else { "tool" };
                let text = if i == 7 { "the weather in Paris" } else { "hello world" };
                span(&format!("t{}", i / 5), &format!("s{i}"), 1000 + i, app, kind, text)
            })
            .collect();
        let refs: Vec<&RawValue> = spans.iter().map(|s| &**s).collect();
        assert_eq!(store.ingest_spans(Some(&a), &refs).await.unwrap(), 40);
        store.ingest_spans(Some(&b), &refs[..3]).await.unwrap();
        // Stored again: upserted, not doubled.
        store.ingest_spans(Some(&a), &refs[..5]).await.unwrap();

        assert_eq!(ids(&store, &a, &search("")).await.len(), 40);
        assert_eq!(ids(&store, &b, &search("")).await, ["s2", "s1", "s0"]);
        assert_eq!(ids(&store, &a, &search("@trace_id:t1")).await, ["s9", "s8", "s7", "s6", "s5"]);
        assert_eq!(ids(&store, &a, &search("weather")).await, ["s7"]);
        assert_eq!(ids(&store, &a, &search("\"in paris\"")).await, ["s7"]);
        assert_eq!(ids(&store, &a, &search("weath*")).await, ["s7"]);
        assert_eq!(ids(&store, &a, &search("*eathe*")).await, ["s7"]);
        assert_eq!(ids(&store, &a, &search("-hello")).await, ["s7"]);
        let shop_llm = ids(&store, &a, &search("@ml_app:shop @meta.span.kind:llm")).await;
        assert_eq!(shop_llm, ["s36", "s24", "s12", "s0"]);
        let either = ids(&store, &a, &search("@span_id:s1 OR @span_id:s2")).await;
        assert_eq!(either, ["s2", "s1"]);
        assert_eq!(
            ids(&store, &a, &search("env:prod @status:error -@trace_id:t0")).await.len(),
            18
        );
        assert_eq!(ids(&store, &a, &search("@name:llm*")).await.len(), 14);
        assert_eq!(ids(&store, &a, &search("@duration:>=6")).await.len(), 6);
        assert!(store.search_spans(&a, &search("@nope:x")).await.is_err());

        // Paging covers every span once, in order.
        let mut page = SpanSearch { limit: 7, descending: false, ..search("@ml_app:bank") };
        let mut seen = Vec::new();
        loop {
            let found = store.search_spans(&a, &page).await.unwrap();
            seen.extend(found.spans.iter().map(|s| s.event["start_ns"].as_i64().unwrap()));
            match found.after {
                Some(after) => page.cursor = Some(after),
                None => break,
            }
        }
        let want: Vec<i64> = (0..40).filter(|i| i % 4 != 0).map(|i| 1000 + i).collect();
        assert_eq!(seen, want);
        let other_sort = SpanSearch { order: SpanOrder::Duration, ..page.clone() };
        assert!(store.search_spans(&a, &other_sort).await.is_err());
    }
}
