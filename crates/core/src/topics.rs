//! Topic discovery ("patterns" in Datadog's client) on the wire: a config's settings and
//! the rules they must pass, and the attributes of every answer (configs, runs and their
//! status, topics, topics with their clustered points, clustered points). The clustering
//! itself is the `llmobs-topics` crate's; runs are the server's.

use serde::{Deserialize, Serialize};

use crate::search;

/// Resource type of a config (request and answer).
pub const CONFIG: &str = "topic_discovery_configs";
/// Resource type of the config list.
pub const CONFIG_LIST: &str = "list_topic_discovery_configs_response";
/// Resource type of a run request.
pub const RUN_REQUEST: &str = "topic_discovery";
/// Resource type of a started run.
pub const RUN: &str = "topic_discovery_run";
/// Resource type of a run's status.
pub const RUN_STATUS: &str = "topic_discovery_run_status";
/// Resource type of a config's run list.
pub const RUN_LIST: &str = "list_topic_discovery_runs_response";
/// Resource type of a run's topics.
pub const TOPICS: &str = "get_topics_response";
/// Resource type of a run's topics with their clustered points.
pub const TOPICS_WITH_POINTS: &str = "get_topics_with_cluster_points_response";
/// Resource type of a topic's clustered points.
pub const POINTS: &str = "clustered_points_response";

/// The most records one run may sample.
pub const MAX_RECORDS: i64 = 200_000;
/// The deepest hierarchy a config may ask for.
pub const MAX_DEPTH: i64 = 4;
/// The default and largest page of clustered points.
pub const POINTS_PAGE: (i64, i64) = (100, 1000);
/// The most clustered points attached to one leaf topic in the topics-with-points answer.
pub const INLINE_POINTS: usize = 100;

/// The steps of a run, in order.
pub const STEPS: [&str; 5] = ["sampling", "embedding", "clustering", "naming", "saving"];

/// What a config says a run does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopicSettings {
    /// The spans to analyse, in the spans search syntax.
    pub evp_query: String,
    /// The share of matching spans sampled, in (0, 1].
    pub sampling_ratio: f64,
    /// The most sampled spans a run clusters.
    pub num_records: i64,
    /// Levels of the topic hierarchy.
    pub hierarchy_depth: i64,
    /// The integration of the naming account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_provider: Option<String>,
    /// The provider account that names topics (and embeds inputs, when it has an
    /// embedding model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The model that names topics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
    /// The config's scope, as given (`org` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Extra instructions for the naming model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
}

/// `PUT /topic-discovery-configs` attributes: a name, the settings, and the config to
/// update (a new one when absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConfigUpsert {
    /// The config's name.
    pub name: String,
    /// The config to update.
    #[serde(default)]
    pub config_id: Option<String>,
    /// Its settings.
    #[serde(flatten)]
    pub settings: TopicSettings,
}

/// Why a config is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// An empty name.
    #[error("name must be a non-empty string")]
    Name,
    /// The query does not parse.
    #[error("evp_query: {0}")]
    Query(String),
    /// The ratio is outside (0, 1].
    #[error("sampling_ratio must be greater than 0 and at most 1, got {0}")]
    Ratio(f64),
    /// The record count is outside 1 to [`MAX_RECORDS`].
    #[error("num_records must be from 1 to {MAX_RECORDS}, got {0}")]
    Records(i64),
    /// The depth is outside 1 to [`MAX_DEPTH`].
    #[error("hierarchy_depth must be from 1 to {MAX_DEPTH}, got {0}")]
    Depth(i64),
    /// A model without an account.
    #[error("model_name needs account_id (and integration_provider) naming a provider account")]
    ModelWithoutAccount,
}

impl ConfigUpsert {
    /// Checks the name and the settings.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.name.trim().is_empty() {
            return Err(ConfigError::Name);
        }
        self.settings.check()
    }
}

impl TopicSettings {
    /// Checks every setting.
    pub fn check(&self) -> Result<(), ConfigError> {
        self.query()?;
        if !(self.sampling_ratio > 0.0 && self.sampling_ratio <= 1.0) {
            return Err(ConfigError::Ratio(self.sampling_ratio));
        }
        if !(1..=MAX_RECORDS).contains(&self.num_records) {
            return Err(ConfigError::Records(self.num_records));
        }
        if !(1..=MAX_DEPTH).contains(&self.hierarchy_depth) {
            return Err(ConfigError::Depth(self.hierarchy_depth));
        }
        if self.model_name.as_deref().is_some_and(|m| !m.is_empty())
            && self.account_id.as_deref().is_none_or(str::is_empty)
        {
            return Err(ConfigError::ModelWithoutAccount);
        }
        Ok(())
    }

    /// The parsed span query.
    pub fn query(&self) -> Result<search::Query, ConfigError> {
        search::parse(&self.evp_query).map_err(|e| ConfigError::Query(e.to_string()))
    }

    /// The snapshot a run keeps of these settings.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            account_id: self.account_id.clone(),
            evp_query: self.evp_query.clone(),
            hierarchy_depth: self.hierarchy_depth,
            integration_provider: self.integration_provider.clone(),
            model_name: self.model_name.clone(),
            num_records: self.num_records,
            sampling_ratio: self.sampling_ratio,
        }
    }
}

/// `LLMObsPatternsConfigAttributes` (and, with `id`, `LLMObsPatternsConfigItem`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConfigAttributes {
    /// The config's id, in list items only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The naming account.
    pub account_id: Option<String>,
    /// When it was created.
    pub created_at: String,
    /// The span query.
    pub evp_query: String,
    /// Levels of the hierarchy.
    pub hierarchy_depth: i64,
    /// The naming account's integration.
    pub integration_provider: Option<String>,
    /// The naming model.
    pub model_name: Option<String>,
    /// Its name.
    pub name: String,
    /// The most records a run samples.
    pub num_records: i64,
    /// The sampled share.
    pub sampling_ratio: f64,
    /// Its scope.
    pub scope: String,
    /// Extra naming instructions.
    pub template: Option<String>,
    /// When it last changed.
    pub updated_at: String,
}

impl ConfigAttributes {
    /// The attributes of a stored config.
    pub fn new(name: &str, settings: &TopicSettings, created_at: &str, updated_at: &str) -> Self {
        ConfigAttributes {
            id: None,
            account_id: settings.account_id.clone(),
            created_at: created_at.to_owned(),
            evp_query: settings.evp_query.clone(),
            hierarchy_depth: settings.hierarchy_depth,
            integration_provider: settings.integration_provider.clone(),
            model_name: settings.model_name.clone(),
            name: name.to_owned(),
            num_records: settings.num_records,
            sampling_ratio: settings.sampling_ratio,
            scope: settings.scope.clone().unwrap_or_else(|| "org".to_owned()),
            template: settings.template.clone(),
            updated_at: updated_at.to_owned(),
        }
    }
}

/// `{"configs": [...]}`, the config list's attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConfigList {
    /// Every config, with its id.
    pub configs: Vec<ConfigAttributes>,
}

/// `LLMObsPatternsConfigSnapshot`: the settings a run used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Snapshot {
    /// The naming account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The span query.
    pub evp_query: String,
    /// Levels of the hierarchy.
    pub hierarchy_depth: i64,
    /// The naming account's integration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_provider: Option<String>,
    /// The naming model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
    /// The most records sampled.
    pub num_records: i64,
    /// The sampled share.
    pub sampling_ratio: f64,
}

/// `LLMObsPatternsTriggerResponseAttributes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Trigger {
    /// The config.
    pub config_id: String,
    /// The run started.
    pub run_id: String,
    /// Its status (`pending`).
    pub status: String,
}

/// `{"config_id"}`, a run request's attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TriggerRequest {
    /// The config to run.
    pub config_id: String,
}

/// `LLMObsPatternsActivityProgress`: one step of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Progress {
    /// One of [`STEPS`].
    pub name: String,
    /// When it started; null before.
    pub started_at: Option<String>,
    /// `pending`, `running`, `completed` or `failed`, with what it got to in brackets
    /// while running (e.g. `running (4000/10000)`).
    pub status: String,
}

impl Progress {
    /// Every step, pending.
    pub fn all_pending() -> Vec<Progress> {
        STEPS
            .iter()
            .map(|name| Progress {
                name: (*name).to_owned(),
                started_at: None,
                status: "pending".to_owned(),
            })
            .collect()
    }
}

/// `LLMObsPatternsRunStatusResponseAttributes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunStatus {
    /// When the run was created.
    pub created_at: String,
    /// Its steps.
    pub progress: Vec<Progress>,
    /// `pending`, `running`, `completed` or `failed`.
    pub status: String,
    /// The current (or last) step; for a failed run, the reason follows it.
    pub step: String,
}

/// `LLMObsPatternsRunSummary`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunSummary {
    /// When it finished; null before.
    pub completed_at: Option<String>,
    /// The settings it used.
    pub config_snapshot: Snapshot,
    /// When it was created.
    pub created_at: String,
    /// Its id.
    pub id: String,
    /// Its status.
    pub status: String,
}

/// `{"runs": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunList {
    /// The config's runs, newest first.
    pub runs: Vec<RunSummary>,
}

/// `LLMObsPatternsTopic`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Topic {
    /// When it was stored.
    pub created_at: String,
    /// Its description.
    pub description: String,
    /// When a topic of this name first appeared in the config's runs.
    pub first_seen_at: String,
    /// 0 for a leaf.
    pub hierarchy_level: i64,
    /// Its id.
    pub id: String,
    /// Always false: topics are not reviewed.
    pub is_validated: bool,
    /// Its name.
    pub name: String,
    /// Its parent's id; empty at the top.
    pub parent_topic_id: String,
    /// Points under it (of its leaves, for a parent).
    pub point_count: i64,
    /// The run.
    pub run_id: String,
}

/// `LLMObsPatternsClusteredPointRef`: a point attached to a leaf topic; the metrics only
/// when asked for.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PointRef {
    /// The span.
    pub span_id: String,
    /// Its duration in nanoseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// Its estimated cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_total_cost: Option<f64>,
    /// Its evaluations by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub evaluation: Option<serde_json::Map<String, serde_json::Value>>,
    /// Input tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<f64>,
    /// Output tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<f64>,
    /// Its status (`ok` or `error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Total tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_tokens: Option<f64>,
}

/// `LLMObsPatternsTopicWithClusteredPoints`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopicWithPoints {
    /// The topic.
    #[serde(flatten)]
    pub topic: Topic,
    /// Up to [`INLINE_POINTS`] of a leaf's points; absent on parents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_points: Option<Vec<PointRef>>,
}

/// The attributes of a run's topics (`LLMObsPatternsTopicsResponseAttributes`, and with
/// [`TopicWithPoints`] the topics-with-points one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunTopics<T> {
    /// When the run finished.
    pub completed_at: Option<String>,
    /// Its config.
    pub config_id: String,
    /// The settings it used.
    pub config_snapshot: Snapshot,
    /// When it was created.
    pub created_at: String,
    /// The completed run of the config before it; empty when none.
    pub previous_run_id: String,
    /// The run.
    pub run_id: String,
    /// Its topics, each parent before its children.
    pub topics: Vec<T>,
}

/// `LLMObsPatternsClusteredPoint`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClusteredPoint {
    /// The source span's trace.
    pub event_id: String,
    /// The point's id.
    pub id: String,
    /// The span's input text.
    pub input: String,
    /// Always false: points are not curated into a dataset.
    pub is_included: bool,
    /// Always false.
    pub is_suggested: bool,
    /// The span's session.
    pub session_id: String,
    /// The span.
    pub span_id: String,
    /// Its leaf topic.
    pub topic_id: String,
}

/// `LLMObsPatternsClusteredPointsResponseAttributes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PointPage {
    /// Where the next page starts; null on the last.
    pub next_page_token: Option<String>,
    /// The points.
    pub points: Vec<ClusteredPoint>,
    /// The topic asked for.
    pub topic_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> TopicSettings {
        TopicSettings {
            evp_query: "@ml_app:bot".into(),
            sampling_ratio: 0.5,
            num_records: 100,
            hierarchy_depth: 2,
            integration_provider: None,
            account_id: None,
            model_name: None,
            scope: None,
            template: None,
        }
    }

    #[test]
    fn settings_are_checked() {
        assert_eq!(settings().check(), Ok(()));
        let bad = |f: fn(&mut TopicSettings)| {
            let mut s = settings();
            f(&mut s);
            s.check().unwrap_err().to_string()
        };
        assert!(bad(|s| s.sampling_ratio = 0.0).starts_with("sampling_ratio"));
        assert!(bad(|s| s.num_records = 0).starts_with("num_records"));
        assert!(bad(|s| s.hierarchy_depth = 9).starts_with("hierarchy_depth"));
        assert!(bad(|s| s.evp_query = "(a".into()).starts_with("evp_query"));
        assert!(bad(|s| s.model_name = Some("m".into())).starts_with("model_name needs"));
        let upsert: ConfigUpsert = serde_json::from_value(serde_json::json!({
            "name": " ", "evp_query": "", "sampling_ratio": 1.0, "num_records": 5, "hierarchy_depth": 1
        }))
        .unwrap();
        assert_eq!(upsert.check(), Err(ConfigError::Name));
    }
}
