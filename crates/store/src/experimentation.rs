//! Experimentation search and analytics: projects, datasets, dataset records, experiments
//! and experiment runs found by free text and `field:value` terms, paged by offset; and
//! aggregations over experiment evaluations grouped by fields. Filtering, sorting,
//! paging and aggregating all happen in SQL, with every request value bound.

use llmobs_core::experimentation::{Analytics, Bucket, EntitySearch, Function, SortKey, preview};
use llmobs_core::search::{Query, Term, Value as Word};
use serde_json::{Map, Value, json};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::Store;
use crate::error::{Error, Result};
use crate::keys::OrgId;
use crate::sql::{Bind, Conditions, Sql, like_literal, like_wildcard};

/// The matches of one scope on a page, and how many there are in all.
#[derive(Debug, Clone)]
pub struct ScopeResults {
    /// The scope, such as `datasets`.
    pub scope: &'static str,
    /// The page's entities, in the answer's shape.
    pub items: Vec<Value>,
    /// Matches in all pages.
    pub total: i64,
}

/// What SQL an entity type reads from.
struct Entity {
    /// `FROM … WHERE` with the org as `$1`, open for more conditions.
    from: &'static str,
    /// Columns searched by free text.
    text: &'static [&'static str],
    /// `field:value` names and their columns.
    fields: &'static [(&'static str, &'static str)],
    /// Created, updated and name columns.
    created: &'static str,
    updated: &'static str,
    name: &'static str,
    /// The column that breaks ties.
    id: &'static str,
    /// The deleted-at column, when the entity is soft-deleted.
    deleted: Option<&'static str>,
    /// The columns read.
    columns: &'static str,
}

const PROJECTS: Entity = Entity {
    from: "FROM projects p WHERE p.org_uuid = $1",
    text: &["p.name", "p.description"],
    fields: &[("id", "p.uuid"), ("project_id", "p.uuid"), ("name", "p.name")],
    created: "p.created_at",
    updated: "p.updated_at",
    name: "p.name",
    id: "p.uuid",
    deleted: Some("p.deleted_at"),
    columns: "p.uuid, p.name, p.description, p.created_at, p.updated_at",
};

const DATASETS: Entity = Entity {
    from: "FROM datasets d WHERE d.org_uuid = $1",
    text: &["d.name", "d.description"],
    fields: &[
        ("id", "d.uuid"),
        ("dataset_id", "d.uuid"),
        ("project_id", "d.project_uuid"),
        ("name", "d.name"),
    ],
    created: "d.created_at",
    updated: "d.updated_at",
    name: "d.name",
    id: "d.uuid",
    deleted: Some("d.deleted_at"),
    columns: "d.uuid, d.name, d.description, d.metadata, d.current_version, d.created_at, \
              d.updated_at, d.deleted_at",
};

const RECORDS: Entity = Entity {
    from: "FROM dataset_records r JOIN datasets d ON d.uuid = r.dataset_uuid \
           WHERE d.org_uuid = $1 AND d.deleted_at IS NULL AND r.deleted_at IS NULL",
    text: &["r.input", "r.expected_output", "r.metadata"],
    fields: &[
        ("id", "r.record_id"),
        ("dataset_id", "r.dataset_uuid"),
        ("project_id", "d.project_uuid"),
    ],
    created: "r.created_at",
    updated: "r.updated_at",
    name: "r.created_at",
    id: "r.record_id",
    deleted: None,
    columns: "r.record_id, r.dataset_uuid, r.input, r.expected_output, r.metadata, \
              r.created_at, r.updated_at",
};

const EXPERIMENTS: Entity = Entity {
    from: "FROM experiments e JOIN datasets d ON d.uuid = e.dataset_uuid WHERE e.org_uuid = $1",
    text: &["e.name", "e.description", "e.experiment"],
    fields: &[
        ("id", "e.uuid"),
        ("experiment_id", "e.uuid"),
        ("project_id", "e.project_uuid"),
        ("dataset_id", "e.dataset_uuid"),
        ("name", "e.name"),
    ],
    created: "e.created_at",
    updated: "e.updated_at",
    name: "e.name",
    id: "e.uuid",
    deleted: Some("e.deleted_at"),
    columns: "e.uuid, e.project_uuid, e.dataset_uuid, e.dataset_version, e.experiment, e.name, \
              e.description, e.config, e.metadata, e.run_count, e.parent_experiment_id, e.status, \
              e.error, e.author, e.created_at, e.updated_at, e.deleted_at, d.name AS dataset_name",
};

const RUNS: Entity = Entity {
    from: "FROM experiment_runs x JOIN experiments e ON e.uuid = x.experiment_uuid \
           WHERE e.org_uuid = $1 AND e.deleted_at IS NULL",
    text: &["e.name", "e.experiment"],
    fields: &[
        ("id", "x.run_id"),
        ("experiment_id", "e.uuid"),
        ("project_id", "e.project_uuid"),
        ("dataset_id", "e.dataset_uuid"),
        ("name", "e.name"),
    ],
    created: "x.created_at",
    updated: "x.created_at",
    name: "e.name",
    id: "x.run_id",
    deleted: None,
    columns: "x.experiment_uuid, x.run_id, x.created_at",
};

/// The condition of an entity search query: `column` maps a field to its SQL (or `None`:
/// the field does not apply, so the term matches nothing), `text` lists the columns free
/// text is looked for in.
struct EntityConditions<'a> {
    sql: &'a mut Sql,
    column: &'a dyn Fn(&str) -> Result<Option<String>>,
    text: &'a [&'a str],
}

impl Conditions for EntityConditions<'_> {
    fn sql_text(&mut self) -> &mut String {
        &mut self.sql.text
    }

    fn term(&mut self, term: &Term) -> Result<()> {
        let text = self.text;
        match term {
            Term::Text(word) => {
                if text.is_empty() {
                    return Err(Error::Invalid("free text is not searchable here".into()));
                }
                let pattern = match word {
                    Word::Wildcard(p) => format!("%{}%", like_wildcard(p)),
                    other => format!("%{}%", like_literal(other.text())),
                };
                let p = self.sql.bind(Bind::Text(pattern.to_lowercase()));
                let parts: Vec<String> = text
                    .iter()
                    .map(|c| format!("LOWER(COALESCE({c}, '')) LIKE {p} ESCAPE '\\'"))
                    .collect();
                self.sql.text.push_str(&format!("({})", parts.join(" OR ")));
            }
            Term::Field { name, value, .. } => match (self.column)(name)? {
                None => self.sql.text.push_str("1 = 0"),
                Some(sql) => match value {
                    Word::Wildcard(p) => {
                        let p = self.sql.bind(Bind::Text(like_wildcard(p)));
                        self.sql.text.push_str(&format!("{sql} LIKE {p} ESCAPE '\\'"));
                    }
                    other => {
                        let p = self.sql.bind(Bind::Text(other.text().to_owned()));
                        self.sql.text.push_str(&format!("{sql} = {p}"));
                    }
                },
            },
        }
        Ok(())
    }
}

/// Appends the condition of `query` to `sql`: see [`EntityConditions`].
fn condition(
    sql: &mut Sql,
    query: &Query,
    column: &dyn Fn(&str) -> Result<Option<String>>,
    text: &[&str],
) -> Result<()> {
    EntityConditions { sql, column, text }.condition(query)
}

/// Every field an entity search knows.
const SEARCH_FIELDS: [&str; 6] =
    ["id", "name", "project_id", "dataset_id", "experiment_id", "run_id"];

fn json_text(text: Option<String>) -> Value {
    text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(Value::Null)
}

fn entity_json(scope: &str, row: &AnyRow, preview_chars: Option<usize>) -> Result<Value> {
    let get = |c: &str| -> Result<Option<String>> { Ok(row.try_get::<Option<String>, _>(c)?) };
    Ok(match scope {
        "projects" => json!({"id": get("uuid")?, "type": "projects", "attributes": {
            "name": get("name")?, "description": get("description")?,
            "created_at": get("created_at")?, "updated_at": get("updated_at")?}}),
        "datasets" => json!({"id": get("uuid")?, "type": "datasets", "attributes": {
            "name": get("name")?, "description": get("description")?,
            "metadata": json_text(get("metadata")?).as_object().cloned().map(Value::Object),
            "current_version": row.try_get::<i64, _>("current_version")?,
            "created_at": get("created_at")?, "updated_at": get("updated_at")?,
            "deleted_at": get("deleted_at")?}}),
        "dataset_records" => {
            let cut = |v: Value| match preview_chars {
                Some(limit) => preview(v, limit),
                None => v,
            };
            json!({"id": get("record_id")?, "dataset_id": get("dataset_uuid")?,
                "input": cut(json_text(get("input")?)),
                "expected_output": cut(json_text(get("expected_output")?)),
                "metadata": json_text(get("metadata")?).as_object().cloned().map(Value::Object),
                "created_at": get("created_at")?, "updated_at": get("updated_at")?})
        }
        "experiments" => {
            let mut out = json!({"id": get("uuid")?, "project_id": get("project_uuid")?,
                "dataset_id": get("dataset_uuid")?, "dataset_name": get("dataset_name")?,
                "dataset_version": row.try_get::<i64, _>("dataset_version")?,
                "experiment": get("experiment")?, "name": get("name")?,
                "description": get("description")?, "config": json_text(get("config")?),
                "metadata": json_text(get("metadata")?), "run_count": row.try_get::<i64, _>("run_count")?,
                "parent_experiment_id": get("parent_experiment_id")?, "error": get("error")?,
                "author": {"id": get("author")?},
                "created_at": get("created_at")?, "updated_at": get("updated_at")?,
                "deleted_at": get("deleted_at")?});
            if let Some(status) = get("status")? {
                out["status"] = Value::String(status);
            }
            out
        }
        _ => json!({"id": get("run_id")?, "experiment_id": get("experiment_uuid")?,
            "created_at": get("created_at")?}),
    })
}

impl Store {
    /// The org's entities matching `search`, one page of each scope.
    pub async fn search_entities(
        &self,
        org: &OrgId,
        search: &EntitySearch,
    ) -> Result<Vec<ScopeResults>> {
        check_fields(&search.query)?;
        let mut results = Vec::new();
        for scope in &search.scopes {
            let entity = match *scope {
                "projects" => &PROJECTS,
                "datasets" => &DATASETS,
                "dataset_records" => &RECORDS,
                "experiments" => &EXPERIMENTS,
                _ => &RUNS,
            };
            let mut sql = Sql::default();
            sql.bind(Bind::Text(org.0.clone()));
            sql.text = entity.from.to_owned();
            if let Some(deleted) = entity.deleted {
                match search.deleted {
                    None => sql.text.push_str(&format!(" AND {deleted} IS NULL")),
                    Some(true) => sql.text.push_str(&format!(" AND {deleted} IS NOT NULL")),
                    Some(false) => {}
                }
            }
            if *scope == "dataset_records" {
                match search.version {
                    None => sql.text.push_str(" AND r.to_version IS NULL"),
                    Some(v) => {
                        let p = sql.bind(Bind::Int(v));
                        sql.text.push_str(&format!(
                            " AND r.from_version <= {p} AND (r.to_version IS NULL OR r.to_version > {p})"
                        ));
                    }
                }
            }
            sql.text.push_str(" AND ");
            let fields = entity.fields;
            condition(
                &mut sql,
                &search.query,
                &|name| {
                    let name = if name == "run_id" { "id" } else { name };
                    Ok(fields.iter().find(|(f, _)| *f == name).map(|(_, c)| (*c).to_owned()))
                },
                entity.text,
            )?;
            let filtered = sql.text.clone();
            sql.text = format!("SELECT COUNT(*) AS n {filtered}");
            let total: i64 = sql.query().fetch_one(self.reads().await?).await?.try_get("n")?;
            let (key, descending) = search.sort;
            let column = match key {
                SortKey::CreatedAt => entity.created,
                SortKey::UpdatedAt => entity.updated,
                SortKey::Name => entity.name,
            };
            let direction = if descending { "DESC" } else { "ASC" };
            let limit = sql.bind(Bind::Int(search.limit));
            let offset = sql.bind(Bind::Int(search.offset));
            sql.text = format!(
                "SELECT {} {filtered} ORDER BY {column} {direction}, {} {direction} \
                 LIMIT {limit} OFFSET {offset}",
                entity.columns, entity.id
            );
            let rows = sql.query().fetch_all(self.reads().await?).await?;
            let mut items = rows
                .iter()
                .map(|row| entity_json(scope, row, search.preview))
                .collect::<Result<Vec<_>>>()?;
            if *scope == "experiment_runs" {
                self.number_runs(&mut items).await?;
            }
            results.push(ScopeResults { scope, items, total });
        }
        Ok(results)
    }

    /// Gives each run its `run_number`: its place among its experiment's runs, by first
    /// evaluation.
    async fn number_runs(&self, runs: &mut [Value]) -> Result<()> {
        for run in runs.iter_mut() {
            let experiment = run["experiment_id"].as_str().unwrap_or_default().to_owned();
            let created = run["created_at"].as_str().unwrap_or_default().to_owned();
            let earlier: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM experiment_runs WHERE experiment_uuid = $1 \
                 AND created_at < $2",
            )
            .bind(&experiment)
            .bind(&created)
            .fetch_one(self.reads().await?)
            .await?;
            run["run_number"] = json!(earlier + 1);
        }
        Ok(())
    }

    /// Aggregates the org's experiment evaluations: how many match, and the computed
    /// metrics of each group (ordered by the group values).
    pub async fn aggregate_evaluations(
        &self,
        org: &OrgId,
        analytics: &Analytics,
    ) -> Result<(i64, Vec<Bucket>)> {
        let mut conn = self.reads().await?.acquire().await?;
        let sqlite = conn.backend_name() == "SQLite";
        let json_field = |key: &str| {
            if sqlite {
                format!("json_extract(m.body, '$.{key}')")
            } else {
                format!("(m.body::jsonb ->> '{key}')")
            }
        };
        let field = |name: &str| -> String {
            match name {
                "experiment_id" => "m.experiment_uuid".into(),
                "experiment" => "e.experiment".into(),
                "experiment_name" => "e.name".into(),
                "project_id" => "e.project_uuid".into(),
                "dataset_id" => "e.dataset_uuid".into(),
                "dataset_version" => "e.dataset_version".into(),
                "label" => "m.label".into(),
                "metric_source" => "m.metric_source".into(),
                "run_id" => "m.run_id".into(),
                other => json_field(other),
            }
        };
        let number = |key: &str| -> String {
            match (key, sqlite) {
                ("boolean_value", true) => "CASE json_extract(m.body, '$.boolean_value') \
                     WHEN 1 THEN 1.0 WHEN 0 THEN 0.0 END"
                    .into(),
                ("boolean_value", false) => "CASE m.body::jsonb ->> 'boolean_value' \
                     WHEN 'true' THEN 1.0 WHEN 'false' THEN 0.0 END"
                    .into(),
                (key, true) => format!(
                    "CASE WHEN json_type(m.body, '$.{key}') IN ('integer', 'real') \
                     THEN json_extract(m.body, '$.{key}') END"
                ),
                (key, false) => format!(
                    "CASE WHEN jsonb_typeof(m.body::jsonb -> '{key}') = 'number' \
                     THEN (m.body::jsonb ->> '{key}')::double precision END"
                ),
            }
        };
        let mut sql = Sql::default();
        sql.bind(Bind::Text(org.0.clone()));
        sql.text = "FROM experiment_metrics m JOIN experiments e ON e.uuid = m.experiment_uuid \
                    WHERE e.org_uuid = $1 AND e.deleted_at IS NULL"
            .into();
        if let Some(from) = analytics.from_ms {
            let p = sql.bind(Bind::Int(from));
            sql.text.push_str(&format!(" AND m.timestamp_ms >= {p}"));
        }
        if let Some(to) = analytics.to_ms {
            let p = sql.bind(Bind::Int(to));
            sql.text.push_str(&format!(" AND m.timestamp_ms <= {p}"));
        }
        if let Some(version) = analytics.dataset_version {
            let p = sql.bind(Bind::Int(version));
            sql.text.push_str(&format!(" AND e.dataset_version = {p}"));
        }
        sql.text.push_str(" AND ");
        let text_field = |name: &str| -> Result<Option<String>> {
            Ok(Some(match name {
                // Compared as text, so `dataset_version:2` binds a string.
                "dataset_version" => "CAST(e.dataset_version AS TEXT)".into(),
                other => field(other),
            }))
        };
        condition(&mut sql, &analytics.query, &text_field, &[])?;
        let filtered = sql.text.clone();
        sql.text = format!("SELECT COUNT(*) AS n {filtered}");
        let hits: i64 = sql.query().fetch_one(&mut *conn).await?.try_get("n")?;
        let real = if sqlite { "REAL" } else { "DOUBLE PRECISION" };
        let mut select: Vec<String> = analytics
            .group_by
            .iter()
            .enumerate()
            .map(|(i, name)| format!("{} AS g{i}", field(name)))
            .collect();
        for (i, computation) in analytics.computations.iter().enumerate() {
            let expr = match computation.function {
                Function::Count => "CAST(COUNT(*) AS BIGINT)".to_owned(),
                Function::Cardinality => {
                    format!("CAST(COUNT(DISTINCT {}) AS BIGINT)", field(&computation.of))
                }
                Function::Avg => format!("CAST(AVG({}) AS {real})", number(&computation.of)),
                Function::Sum => format!("CAST(SUM({}) AS {real})", number(&computation.of)),
                Function::Min => format!("CAST(MIN({}) AS {real})", number(&computation.of)),
                Function::Max => format!("CAST(MAX({}) AS {real})", number(&computation.of)),
            };
            select.push(format!("{expr} AS c{i}"));
        }
        let groups: Vec<String> = (0..analytics.group_by.len()).map(|i| format!("g{i}")).collect();
        let limit = sql.bind(Bind::Int(analytics.limit));
        sql.text = format!("SELECT {} {filtered}", select.join(", "));
        if !groups.is_empty() {
            let positions: Vec<String> = (1..=groups.len()).map(|i| i.to_string()).collect();
            sql.text.push_str(&format!(
                " GROUP BY {} ORDER BY {}",
                positions.join(", "),
                positions.join(", ")
            ));
        }
        sql.text.push_str(&format!(" LIMIT {limit}"));
        let rows = sql.query().fetch_all(&mut *conn).await?;
        let mut buckets = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut by = Map::new();
            for (i, name) in analytics.group_by.iter().enumerate() {
                let column = format!("g{i}");
                let value = if name == "dataset_version" {
                    row.try_get::<Option<i64>, _>(column.as_str())?.map_or(Value::Null, Value::from)
                } else {
                    row.try_get::<Option<String>, _>(column.as_str())?
                        .map_or(Value::Null, Value::String)
                };
                by.insert(name.clone(), value);
            }
            let mut metrics = Map::new();
            for (i, computation) in analytics.computations.iter().enumerate() {
                let column = format!("c{i}");
                let value = match computation.function {
                    Function::Count | Function::Cardinality => {
                        Value::from(row.try_get::<i64, _>(column.as_str())?)
                    }
                    _ => row
                        .try_get::<Option<f64>, _>(column.as_str())?
                        .map_or(Value::Null, Value::from),
                };
                metrics.insert(computation.name.clone(), value);
            }
            buckets.push((by, metrics));
        }
        Ok((hits, buckets))
    }
}

/// Refuses `field:value` terms no entity knows.
fn check_fields(query: &Query) -> Result<()> {
    match query {
        Query::All | Query::Term(Term::Text(_)) => Ok(()),
        Query::Not(inner) => check_fields(inner),
        Query::And(items) | Query::Or(items) => items.iter().try_for_each(check_fields),
        Query::Term(Term::Field { name, .. }) if SEARCH_FIELDS.contains(&name.as_str()) => Ok(()),
        Query::Term(Term::Field { name, .. }) => Err(Error::Invalid(format!(
            "data.attributes.filter.query: '{name}' is not a field: use {} or free text",
            SEARCH_FIELDS.join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use llmobs_core::experimentation::{EntitySearch, SortKey};
    use llmobs_core::experiments::PostEvents;
    use serde_json::json;

    use crate::experiments::tests::{raw, setup};

    #[tokio::test]
    async fn runs_are_listed_and_numbered_by_their_first_evaluation() {
        let s = setup().await;
        for (run, label) in [("first", "a"), ("second", "a"), ("first", "b")] {
            let metric = raw(json!({"span_id": "s1", "timestamp_ms": 1, "label": label,
                "metric_type": "score", "score_value": 0.5}));
            let events = PostEvents {
                scope: Some("experiments".into()),
                metrics: vec![metric],
                tags: vec![format!("run_id:{run}")],
                spans: Vec::new(),
            };
            s.store.post_events(&s.a, &s.ea, events).await.unwrap();
            // Distinct arrival times, which is what numbers runs.
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        let search = EntitySearch {
            scopes: vec!["experiment_runs"],
            query: llmobs_core::search::parse("").unwrap(),
            deleted: None,
            version: None,
            sort: (SortKey::CreatedAt, false),
            limit: 10,
            offset: 0,
            preview: None,
        };
        let found = s.store.search_entities(&s.a, &search).await.unwrap();
        let runs: Vec<(String, i64)> = (found[0].items.iter())
            .map(|r| (r["id"].as_str().unwrap().to_owned(), r["run_number"].as_i64().unwrap()))
            .collect();
        assert_eq!(runs, [("first".to_owned(), 1), ("second".to_owned(), 2)]);
        assert_eq!(found[0].total, 2);
        // Another org sees none of them.
        let theirs = s.store.search_entities(&s.b, &search).await.unwrap();
        assert!(theirs[0].items.is_empty());
    }
}
