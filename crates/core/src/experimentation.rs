//! Wire types of experimentation search and analytics:
//! `POST /api/v2/llm-obs/v1/experimentation/search` (cursor paging),
//! `…/experimentation/simple-search` (page numbers) and `…/experimentation/analytics`
//! (aggregations grouped by fields), and the rules that read their requests.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::search::{self, Query};

/// The resource type of every experimentation request and answer.
pub const EXPERIMENTATION: &str = "experimentation";

/// The entity types a search may look through, in the order answers list them.
pub const SCOPES: [&str; 5] =
    ["projects", "datasets", "dataset_records", "experiments", "experiment_runs"];

/// Results per scope and page when the request names no limit.
pub const DEFAULT_LIMIT: i64 = 20;
/// The most results per scope and page.
pub const MAX_LIMIT: i64 = 1000;

/// `{"data": {"type": "experimentation", "attributes": A}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExperimentationRequest<A> {
    /// The request.
    pub data: ExperimentationData<A>,
}

/// The `data` of an [`ExperimentationRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExperimentationData<A> {
    /// Always `experimentation`.
    #[serde(rename = "type")]
    pub kind: String,
    /// What to do.
    pub attributes: A,
}

/// Attributes of a search (`search` pages by cursor, `simple-search` by number).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchAttributes {
    /// Which entities.
    pub filter: SearchFilter,
    /// Paging: `{cursor, limit}` (search) or `{number, limit}` (simple-search).
    #[serde(default)]
    pub page: Option<SearchPage>,
    /// Sort (simple-search): fields `created_at`, `updated_at` or `name`.
    #[serde(default)]
    pub sort: Option<Vec<SortField>>,
    /// Truncation of record contents.
    #[serde(default)]
    pub content_preview: Option<ContentPreview>,
    /// Extra data (`user_data`: the author of experiments).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub include: Option<Value>,
}

/// The filter of a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchFilter {
    /// Entity types to search: see [`SCOPES`].
    pub scope: Vec<String>,
    /// Free text (matched case-insensitively in names, descriptions and record contents)
    /// and `field:value` terms (`id`, `project_id`, `dataset_id`, `experiment_id`, `name`).
    #[serde(default)]
    pub query: Option<String>,
    /// Include soft-deleted projects, datasets and experiments too.
    #[serde(default)]
    pub include_deleted: Option<bool>,
    /// Only soft-deleted projects, datasets and experiments.
    #[serde(default)]
    pub is_deleted: Option<bool>,
    /// Dataset records as of this version of their dataset (default: current).
    #[serde(default)]
    pub version: Option<i64>,
}

/// Paging of a search.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchPage {
    /// `meta.after` of the previous page (search).
    #[serde(default)]
    pub cursor: Option<String>,
    /// Page number from 1 (simple-search).
    #[serde(default)]
    pub number: Option<i64>,
    /// Results per scope and page.
    #[serde(default)]
    pub limit: Option<i64>,
}

/// One sort key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SortField {
    /// `created_at`, `updated_at` or `name`.
    pub field: String,
    /// `asc` or `desc`.
    #[serde(default)]
    pub direction: Option<String>,
}

/// Truncation of record contents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContentPreview {
    /// Characters kept of each text value.
    #[serde(default)]
    pub limit: Option<i64>,
}

pub use crate::error::RequestError;
use crate::error::refuse;

/// How entities are sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// By creation time.
    CreatedAt,
    /// By last update.
    UpdatedAt,
    /// By name (creation time where an entity has none).
    Name,
}

/// A search, read and checked.
#[derive(Debug, Clone)]
pub struct EntitySearch {
    /// Entity types, in [`SCOPES`] order, each once.
    pub scopes: Vec<&'static str>,
    /// The query.
    pub query: Query,
    /// Deleted entities: `None` live only, `Some(true)` deleted only, `Some(false)` both.
    pub deleted: Option<bool>,
    /// The dataset version records are read at.
    pub version: Option<i64>,
    /// Sort key and whether descending.
    pub sort: (SortKey, bool),
    /// Results per scope.
    pub limit: i64,
    /// How many results of each scope to skip.
    pub offset: i64,
    /// Characters kept of record text values.
    pub preview: Option<usize>,
}

/// Reads a search or simple-search request. `numbered`: page numbers (simple-search)
/// rather than cursors.
pub fn plan_search(
    request: &ExperimentationRequest<SearchAttributes>,
    numbered: bool,
) -> Result<EntitySearch, RequestError> {
    if request.data.kind != EXPERIMENTATION {
        return Err(refuse("data.type", format!("must be '{EXPERIMENTATION}'")));
    }
    let attributes = &request.data.attributes;
    let filter = &attributes.filter;
    if filter.scope.is_empty() {
        return Err(refuse(
            "data.attributes.filter.scope",
            format!("name at least one of {}", SCOPES.join(", ")),
        ));
    }
    for scope in &filter.scope {
        if !SCOPES.contains(&scope.as_str()) {
            return Err(refuse(
                "data.attributes.filter.scope",
                format!("'{scope}' is not a scope: use {}", SCOPES.join(", ")),
            ));
        }
    }
    let scopes = SCOPES.into_iter().filter(|s| filter.scope.iter().any(|f| f == s)).collect();
    let query = search::parse(filter.query.as_deref().unwrap_or(""))
        .map_err(|err| refuse("data.attributes.filter.query", err.to_string()))?;
    let deleted = match (filter.is_deleted, filter.include_deleted) {
        (Some(true), _) => Some(true),
        (_, Some(true)) => Some(false),
        _ => None,
    };
    if let Some(version) = filter.version.filter(|v| *v < 0) {
        return Err(refuse(
            "data.attributes.filter.version",
            format!("must be 0 or more, got {version}"),
        ));
    }
    let page = attributes.page.clone().unwrap_or_default();
    let limit = page.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(refuse(
            "data.attributes.page.limit",
            format!("must be between 1 and {MAX_LIMIT}, got {limit}"),
        ));
    }
    let offset = if numbered {
        let number = page.number.unwrap_or(1);
        if number < 1 {
            return Err(refuse(
                "data.attributes.page.number",
                format!("pages are numbered from 1, got {number}"),
            ));
        }
        (number - 1).saturating_mul(limit)
    } else {
        match page.cursor.as_deref().filter(|c| !c.is_empty()) {
            None => 0,
            Some(cursor) => read_cursor(cursor).ok_or_else(|| {
                refuse(
                    "data.attributes.page.cursor",
                    "not a cursor of this API; pass meta.after of the previous page unchanged",
                )
            })?,
        }
    };
    let sort = match attributes.sort.as_deref().unwrap_or_default() {
        [] => (SortKey::CreatedAt, true),
        [first, ..] => {
            let key = match first.field.as_str() {
                "created_at" => SortKey::CreatedAt,
                "updated_at" => SortKey::UpdatedAt,
                "name" => SortKey::Name,
                other => {
                    return Err(refuse(
                        "data.attributes.sort",
                        format!(
                            "'{other}' is not a sort field: use created_at, updated_at or name"
                        ),
                    ));
                }
            };
            let descending = match first.direction.as_deref() {
                None | Some("desc") => true,
                Some("asc") => false,
                Some(other) => {
                    return Err(refuse(
                        "data.attributes.sort",
                        format!("direction '{other}' is not asc or desc"),
                    ));
                }
            };
            (key, descending)
        }
    };
    let preview = match attributes.content_preview.as_ref().and_then(|p| p.limit) {
        None => None,
        Some(n) if n >= 1 => Some(n as usize),
        Some(n) => {
            return Err(refuse(
                "data.attributes.content_preview.limit",
                format!("must be 1 or more, got {n}"),
            ));
        }
    };
    Ok(EntitySearch {
        scopes,
        query,
        deleted,
        version: filter.version,
        sort,
        limit,
        offset,
        preview,
    })
}

/// The cursor of the page starting `offset` results into every scope.
pub fn cursor(offset: i64) -> String {
    format!("offset:{offset}")
}

fn read_cursor(text: &str) -> Option<i64> {
    text.strip_prefix("offset:")?.parse().ok().filter(|n: &i64| *n >= 0)
}

/// `value` with each text in it cut to `limit` characters.
pub fn preview(value: Value, limit: usize) -> Value {
    match value {
        Value::String(text) if text.chars().count() > limit => {
            Value::String(text.chars().take(limit).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(|v| preview(v, limit)).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, preview(v, limit))).collect())
        }
        other => other,
    }
}

/// Attributes of an analytics request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnalyticsAttributes {
    /// The aggregation.
    pub aggregate: Aggregate,
}

/// An aggregation over experiment evaluations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Aggregate {
    /// What to compute for each group.
    pub compute: Vec<Compute>,
    /// The data to aggregate: `experiments` (each event is one evaluation of an
    /// experiment's record).
    pub indexes: Vec<String>,
    /// Which events, as `field:value` terms.
    pub search: AnalyticsSearch,
    /// Fields to group by.
    #[serde(default)]
    pub group_by: Option<Vec<GroupBy>>,
    /// The most groups returned.
    #[serde(default)]
    pub limit: Option<i64>,
    /// Evaluation times, in epoch milliseconds.
    #[serde(default)]
    pub time: Option<TimeRange>,
    /// Only experiments run on this dataset version.
    #[serde(default)]
    pub dataset_version: Option<i64>,
}

/// One computation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Compute {
    /// `count`, or `avg`, `sum`, `min`, `max` of `score_value` or `boolean_value` (as 0/1),
    /// written `avg:@score_value` or `avg(@score_value)`; or `cardinality` of a field.
    pub metric: String,
    /// The key of the value in each group's `metrics` (default: `metric` as written).
    #[serde(default)]
    pub name: Option<String>,
}

/// The analytics search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnalyticsSearch {
    /// `field:value` terms, combined with AND/OR/-.
    #[serde(default)]
    pub query: Option<String>,
}

/// One group-by field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupBy {
    /// See [`ANALYTICS_FIELDS`].
    pub field: String,
}

/// A time range in epoch milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimeRange {
    /// Start (inclusive).
    #[serde(default)]
    pub from: Option<i64>,
    /// End (inclusive).
    #[serde(default)]
    pub to: Option<i64>,
}

/// The fields analytics can group and search by.
pub const ANALYTICS_FIELDS: [&str; 11] = [
    "experiment_id",
    "experiment",
    "experiment_name",
    "project_id",
    "dataset_id",
    "dataset_version",
    "label",
    "metric_type",
    "metric_source",
    "run_id",
    "categorical_value",
];

/// An aggregation function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// Number of events.
    Count,
    /// Mean.
    Avg,
    /// Sum.
    Sum,
    /// Least.
    Min,
    /// Greatest.
    Max,
    /// Number of distinct values of a field.
    Cardinality,
}

/// One computation, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Computation {
    /// The key in each group's `metrics`.
    pub name: String,
    /// The function.
    pub function: Function,
    /// What it reads: `score_value`, `boolean_value` or (cardinality) a field; empty
    /// for `count`.
    pub of: String,
}

/// An aggregation, read and checked.
#[derive(Debug, Clone)]
pub struct Analytics {
    /// What to compute.
    pub computations: Vec<Computation>,
    /// Which events.
    pub query: Query,
    /// Group-by fields.
    pub group_by: Vec<String>,
    /// The most groups.
    pub limit: i64,
    /// Epoch milliseconds, inclusive.
    pub from_ms: Option<i64>,
    /// Epoch milliseconds, inclusive.
    pub to_ms: Option<i64>,
    /// Only experiments on this dataset version.
    pub dataset_version: Option<i64>,
}

/// The indexes analytics reads.
pub const ANALYTICS_INDEXES: [&str; 1] = ["experiments"];

/// Reads an analytics request.
pub fn plan_analytics(
    request: &ExperimentationRequest<AnalyticsAttributes>,
) -> Result<Analytics, RequestError> {
    if request.data.kind != EXPERIMENTATION {
        return Err(refuse("data.type", format!("must be '{EXPERIMENTATION}'")));
    }
    let aggregate = &request.data.attributes.aggregate;
    let at = |field: &str| format!("data.attributes.aggregate.{field}");
    if aggregate.indexes.is_empty() {
        return Err(refuse(&at("indexes"), "name at least one index: experiments"));
    }
    for index in &aggregate.indexes {
        if !ANALYTICS_INDEXES.contains(&index.as_str()) {
            return Err(refuse(
                &at("indexes"),
                format!("'{index}' is not an index: use experiments"),
            ));
        }
    }
    if aggregate.compute.is_empty() {
        return Err(refuse(&at("compute"), "name at least one metric, such as count"));
    }
    let mut computations = Vec::new();
    for compute in &aggregate.compute {
        let written = compute.metric.trim();
        let (function, of) = match written.split_once([':', '(']) {
            None => (written, ""),
            Some((f, rest)) => (f, rest.trim_end_matches(')').trim_start_matches('@')),
        };
        let function = match function {
            "count" => Function::Count,
            "avg" => Function::Avg,
            "sum" => Function::Sum,
            "min" => Function::Min,
            "max" => Function::Max,
            "cardinality" => Function::Cardinality,
            _ => {
                return Err(refuse(
                    &at("compute"),
                    format!(
                        "'{written}' is not a metric: use count, avg|sum|min|max:@score_value or \
                 :@boolean_value, or cardinality:@FIELD"
                    ),
                ));
            }
        };
        let fine = match function {
            Function::Count => of.is_empty(),
            Function::Cardinality => ANALYTICS_FIELDS.contains(&of),
            _ => matches!(of, "score_value" | "boolean_value"),
        };
        if !fine {
            return Err(refuse(
                &at("compute"),
                format!(
                    "'{written}' is not a metric: use count, avg|sum|min|max:@score_value or \
                 :@boolean_value, or cardinality:@FIELD"
                ),
            ));
        }
        let name =
            compute.name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| written.to_owned());
        computations.push(Computation { name, function, of: of.to_owned() });
    }
    let mut group_by = Vec::new();
    for group in aggregate.group_by.iter().flatten() {
        let field = group.field.trim_start_matches('@');
        if !ANALYTICS_FIELDS.contains(&field) {
            return Err(refuse(
                &at("group_by"),
                format!("'{}' is not a field: use {}", group.field, ANALYTICS_FIELDS.join(", ")),
            ));
        }
        group_by.push(field.to_owned());
    }
    let query = search::parse(aggregate.search.query.as_deref().unwrap_or(""))
        .map_err(|err| refuse(&at("search.query"), err.to_string()))?;
    check_analytics_query(&query).map_err(|message| refuse(&at("search.query"), message))?;
    let limit = aggregate.limit.unwrap_or(100);
    if !(1..=10_000).contains(&limit) {
        return Err(refuse(&at("limit"), format!("must be between 1 and 10000, got {limit}")));
    }
    let (from_ms, to_ms) = match &aggregate.time {
        None => (None, None),
        Some(range) => (range.from, range.to),
    };
    if let (Some(from), Some(to)) = (from_ms, to_ms)
        && from > to
    {
        return Err(refuse(&at("time"), "from is after to"));
    }
    Ok(Analytics {
        computations,
        query,
        group_by,
        limit,
        from_ms,
        to_ms,
        dataset_version: aggregate.dataset_version,
    })
}

/// Analytics queries take only `field:value` terms over [`ANALYTICS_FIELDS`].
fn check_analytics_query(query: &Query) -> Result<(), String> {
    match query {
        Query::All => Ok(()),
        Query::Not(inner) => check_analytics_query(inner),
        Query::And(items) | Query::Or(items) => items.iter().try_for_each(check_analytics_query),
        Query::Term(search::Term::Field { name, .. })
            if ANALYTICS_FIELDS.contains(&name.as_str()) =>
        {
            Ok(())
        }
        Query::Term(search::Term::Field { name, .. }) => {
            Err(format!("'{name}' is not a field: use {}", ANALYTICS_FIELDS.join(", ")))
        }
        Query::Term(search::Term::Text(value)) => Err(format!(
            "free text ('{value}') is not searchable here: use field:value with a field of {}",
            ANALYTICS_FIELDS.join(", ")
        )),
    }
}

/// One bucket of an analytics answer: its group-by values and computed metrics.
pub type Bucket = (Map<String, Value>, Map<String, Value>);

/// The answer of a search or simple-search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchResponse {
    /// The matches, by scope.
    pub data: SearchResults,
    /// `{"after": cursor}` (search; `null` on the last page) or `{"page": {current, limit,
    /// total_count, total_pages}}` (simple-search).
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub meta: Value,
}

/// The `data` of a [`SearchResponse`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchResults {
    /// A fresh id for this answer.
    pub id: String,
    /// Always `experimentation`.
    #[serde(rename = "type")]
    pub kind: String,
    /// One list per scope searched: `projects` and `datasets` as JSON:API resources,
    /// `dataset_records`, `experiments` and `experiment_runs` as flat objects.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub attributes: Map<String, Value>,
}

/// The answer of an analytics request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnalyticsResponse {
    /// The result.
    pub data: AnalyticsData,
}

/// The `data` of an [`AnalyticsResponse`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnalyticsData {
    /// A fresh id for this answer.
    pub id: String,
    /// Always `experimentation`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Hits and buckets.
    pub attributes: AnalyticsResult,
}

/// Attributes of an [`AnalyticsData`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AnalyticsResult {
    /// Evaluations matched before grouping.
    pub hit_count: i64,
    /// `{"values": [{"by": {field: value}, "metrics": {name: value}}]}`.
    #[cfg_attr(feature = "openapi", schema(value_type = Value))]
    pub result: Value,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn search_request(attributes: Value) -> ExperimentationRequest<SearchAttributes> {
        serde_json::from_value(
            json!({"data": {"type": "experimentation", "attributes": attributes}}),
        )
        .unwrap()
    }

    #[test]
    fn searches_read_scopes_pages_and_sorts() {
        let plan = plan_search(
            &search_request(
                json!({"filter": {"scope": ["experiments", "projects"], "query": "qa"},
            "page": {"number": 3, "limit": 5}, "sort": [{"field": "name", "direction": "asc"}]}),
            ),
            true,
        )
        .unwrap();
        assert_eq!(plan.scopes, ["projects", "experiments"]);
        assert_eq!((plan.offset, plan.limit, plan.sort), (10, 5, (SortKey::Name, false)));
        let plan = plan_search(
            &search_request(json!({"filter": {"scope": ["datasets"]},
            "page": {"cursor": cursor(40)}})),
            false,
        )
        .unwrap();
        assert_eq!(plan.offset, 40);
        for (bad, field) in [
            (json!({"filter": {"scope": []}}), "data.attributes.filter.scope"),
            (json!({"filter": {"scope": ["spans"]}}), "data.attributes.filter.scope"),
            (
                json!({"filter": {"scope": ["datasets"], "query": "(x"}}),
                "data.attributes.filter.query",
            ),
            (
                json!({"filter": {"scope": ["datasets"]}, "page": {"limit": 0}}),
                "data.attributes.page.limit",
            ),
            (
                json!({"filter": {"scope": ["datasets"]}, "page": {"cursor": "x"}}),
                "data.attributes.page.cursor",
            ),
            (
                json!({"filter": {"scope": ["datasets"]}, "sort": [{"field": "size"}]}),
                "data.attributes.sort",
            ),
        ] {
            assert_eq!(plan_search(&search_request(bad), false).unwrap_err().field, field);
        }
    }

    #[test]
    fn analytics_reads_metrics_and_fields() {
        let request: ExperimentationRequest<AnalyticsAttributes> =
            serde_json::from_value(json!({"data": {
            "type": "experimentation", "attributes": {"aggregate": {
                "compute": [{"metric": "count"}, {"metric": "avg(@score_value)", "name": "mean"}],
                "indexes": ["experiments"], "search": {"query": "label:accuracy"},
                "group_by": [{"field": "experiment_id"}]}}}}))
            .unwrap();
        let plan = plan_analytics(&request).unwrap();
        assert_eq!(
            plan.computations[1],
            Computation { name: "mean".into(), function: Function::Avg, of: "score_value".into() }
        );
        assert_eq!(plan.group_by, ["experiment_id"]);
        let mut bad = request.clone();
        bad.data.attributes.aggregate.search.query = Some("free words".into());
        assert!(plan_analytics(&bad).unwrap_err().message.contains("free text"));
        let mut bad = request.clone();
        bad.data.attributes.aggregate.compute[0].metric = "median:@score_value".into();
        assert_eq!(plan_analytics(&bad).unwrap_err().field, "data.attributes.aggregate.compute");
    }

    #[test]
    fn previews_cut_texts() {
        assert_eq!(
            preview(json!({"q": "abcdef", "n": 5, "l": ["xyz12"]}), 3),
            json!({"q": "abc", "n": 5, "l": ["xyz"]})
        );
    }
}
