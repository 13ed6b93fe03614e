//! Topic discovery runs: started by the public API ([`crate::public::topics`]), each run is a
//! tokio task that samples the config's spans, embeds their inputs (the naming account's
//! embeddings endpoint when it has an `embedding_model`, else `llmobs-topics`' local
//! method), clusters them into the config's levels, names each topic (with the config's
//! model when it names one, else from its distinctive terms) and stores topics and points.
//! Status and progress are written to the store at every step, so the API reports them.
//!
//! A run lives in this process only: a server that stops during a run leaves it `running`,
//! and the next start marks it `failed` ([`llmobs_store::Store::fail_unfinished_topic_runs`]).

use llmobs_core::integrations::{InferenceRequest, Message};
use llmobs_core::topics::{Progress, STEPS, TopicSettings};
use llmobs_store::{NewPoint, NewTopic, OrgId, SpanInput, TopicRun};
use llmobs_topics::{Discovery, Settings};

use crate::state::AppState;

/// The seed of sampling and clustering: the same spans give the same topics.
const SEED: u64 = 7;

/// How many example inputs the naming model sees per topic, and how much of each.
const NAMING_EXAMPLES: usize = 8;
const NAMING_CHARS: usize = 300;

/// Starts `run` of `settings` in the background.
pub(crate) fn start(state: AppState, org: OrgId, run: TopicRun, settings: TopicSettings) {
    tokio::spawn(async move {
        let mut job = Job { state, run_id: run.id.clone(), progress: run.progress.clone(), at: 0 };
        if let Err(reason) = job.run(&org, &settings).await {
            tracing::warn!(run = %job.run_id, "topic discovery run failed: {reason}");
            job.fail(&reason).await;
        }
    });
}

/// A run in progress and the progress it reports.
struct Job {
    state: AppState,
    run_id: String,
    progress: Vec<Progress>,
    /// The index of the current step.
    at: usize,
}

impl Job {
    /// Marks step `at` running (and the one before it completed).
    async fn step(&mut self, at: usize) {
        if at > 0 {
            self.progress[at - 1].status = "completed".into();
        }
        self.at = at;
        self.progress[at].status = "running".into();
        self.progress[at].started_at = Some(now());
        self.save("running").await;
    }

    /// Reports how far the current step got.
    async fn advance(&mut self, done: usize, of: usize) {
        self.progress[self.at].status = format!("running ({done}/{of})");
        self.save("running").await;
    }

    async fn save(&self, status: &str) {
        let step = STEPS[self.at];
        if let Err(err) =
            self.state.store.update_topic_run(&self.run_id, status, step, &self.progress).await
        {
            tracing::warn!(run = %self.run_id, "cannot record the run's progress: {err}");
        }
    }

    async fn fail(&mut self, reason: &str) {
        self.progress[self.at].status = "failed".into();
        let step = format!("{}: {reason}", STEPS[self.at]);
        if let Err(err) =
            self.state.store.update_topic_run(&self.run_id, "failed", &step, &self.progress).await
        {
            tracing::warn!(run = %self.run_id, "cannot record the run's failure: {err}");
        }
    }

    async fn run(&mut self, org: &OrgId, settings: &TopicSettings) -> Result<(), String> {
        let account = match settings.account_id.as_deref().filter(|id| !id.is_empty()) {
            None => None,
            Some(id) => Some(self.state.integrations.get(id).cloned().ok_or_else(|| {
                format!("the config's account '{id}' is not configured on this server")
            })?),
        };

        self.step(0).await;
        let query = settings.query().map_err(|e| e.to_string())?;
        let inputs = self
            .state
            .store
            .sample_span_inputs(
                org,
                &query,
                settings.sampling_ratio,
                settings.num_records as usize,
                SEED,
            )
            .await
            .map_err(|e| format!("sampling spans failed: {e}"))?;
        let texts: Vec<String> = inputs.iter().map(|i| i.input.clone()).collect();
        self.advance(texts.len(), settings.num_records as usize).await;

        self.step(1).await;
        let embeddings = match account.as_ref().filter(|a| a.embedding_model.is_some()) {
            Some(account) => Some(
                self.state
                    .integrations
                    .embed(account, &texts)
                    .await
                    .map_err(|e| format!("embedding failed: {e}"))?,
            ),
            None => None,
        };

        self.step(2).await;
        let depth = settings.hierarchy_depth as usize;
        let shared = std::sync::Arc::new(texts);
        let for_clustering = shared.clone();
        let discovery = tokio::task::spawn_blocking(move || {
            llmobs_topics::discover(&for_clustering, embeddings, &Settings::new(depth))
        })
        .await
        .map_err(|e| format!("clustering stopped: {e}"))?
        .map_err(|e| e.to_string())?;

        self.step(3).await;
        let names = self.names(&discovery, &shared, account.as_ref(), settings).await;

        self.step(4).await;
        let (topics, points) = rows(&discovery, names, inputs);
        self.progress[4].status = "completed".into();
        self.state
            .store
            .finish_topic_run(&self.run_id, &topics, &points, &self.progress)
            .await
            .map_err(|e| format!("saving the topics failed: {e}"))?;
        Ok(())
    }

    /// Each topic's `(name, description)`: from the model when the config names one (a
    /// failed call falls back to the terms), else from its distinctive terms.
    async fn names(
        &mut self,
        discovery: &Discovery,
        texts: &[String],
        account: Option<&crate::integrations::AccountSpec>,
        settings: &TopicSettings,
    ) -> Vec<(String, String)> {
        let model = settings.model_name.as_deref().filter(|m| !m.is_empty());
        let total = discovery.topics.len();
        let mut out = Vec::with_capacity(total);
        for (i, topic) in discovery.topics.iter().enumerate() {
            let mut name = topic.name();
            if let (Some(account), Some(model)) = (account, model) {
                let request = naming_request(model, topic, texts, settings.template.as_deref());
                match self.state.integrations.complete(account, &request).await {
                    Ok(done) => {
                        let named = clean_name(&done.content);
                        if !named.is_empty() {
                            name = named;
                        }
                    }
                    Err(err) => {
                        tracing::warn!(run = %self.run_id, "naming a topic failed: {err}");
                    }
                }
                self.advance(i + 1, total).await;
            }
            out.push((name, topic.description()));
        }
        out
    }
}

/// The chat request that asks `model` to name a topic from its example inputs.
fn naming_request(
    model: &str,
    topic: &llmobs_topics::Topic,
    texts: &[String],
    template: Option<&str>,
) -> InferenceRequest {
    let mut system = "Name the topic shared by the user inputs below in at most six words. \
                      Answer with the name only."
        .to_owned();
    if let Some(extra) = template.filter(|t| !t.trim().is_empty()) {
        system.push_str("\n\n");
        system.push_str(extra);
    }
    let mut user = String::from("Inputs:\n");
    for &member in topic.members.iter().take(NAMING_EXAMPLES) {
        let text: String = texts[member].chars().take(NAMING_CHARS).collect();
        user.push_str("- ");
        user.push_str(&text.replace('\n', " "));
        user.push('\n');
    }
    if !topic.terms.is_empty() {
        user.push_str(&format!("Distinctive words: {}\n", topic.terms.join(", ")));
    }
    let message = |role: &str, content: String| Message {
        role: Some(role.to_owned()),
        content: Some(content),
        contents: None,
    };
    InferenceRequest {
        messages: vec![message("system", system), message("user", user)],
        model_id: model.to_owned(),
        temperature: Some(0.0),
        max_tokens: Some(32),
        ..InferenceRequest::default()
    }
}

/// A model's answer as a topic name: its first line, without quotes or a trailing period,
/// at most 80 characters.
fn clean_name(answer: &str) -> String {
    let line = answer.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    let line = line.trim_matches(|c: char| c == '"' || c == '\'' || c == '*' || c == '.');
    line.chars().take(80).collect::<String>().trim().to_owned()
}

/// The rows to store: topics with names and point counts, and every input as a point of
/// its leaf topic.
fn rows(
    discovery: &Discovery,
    names: Vec<(String, String)>,
    inputs: Vec<SpanInput>,
) -> (Vec<NewTopic>, Vec<NewPoint>) {
    let topics = discovery
        .topics
        .iter()
        .zip(names)
        .map(|(topic, (name, description))| NewTopic {
            parent: topic.parent,
            level: topic.level as i64,
            name,
            description,
            point_count: topic.members.len() as i64,
        })
        .collect();
    let points = inputs
        .into_iter()
        .enumerate()
        .map(|(i, input)| NewPoint {
            topic: discovery.leaf_of[i],
            span_id: input.span_id,
            trace_id: input.trace_id,
            session_id: input.session_id,
            input: input.input,
            metrics: input.metrics,
        })
        .collect();
    (topics, points)
}

fn now() -> String {
    llmobs_store::format_ns(llmobs_store::now_ns())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_answers_become_short_names() {
        assert_eq!(clean_name("\n\"Refund requests.\"\nmore"), "Refund requests");
        assert_eq!(clean_name("  "), "");
        assert_eq!(clean_name(&"x".repeat(200)).len(), 80);
    }

    #[test]
    fn naming_requests_carry_examples_terms_and_the_template() {
        let topic = llmobs_topics::Topic {
            level: 0,
            parent: None,
            members: vec![0, 1],
            terms: vec!["refund".into()],
        };
        let texts = vec!["refund my order\nplease".to_owned(), "refund it".to_owned()];
        let request = naming_request("m", &topic, &texts, Some("Use French."));
        let system = request.messages[0].text();
        assert!(system.starts_with("Name the topic") && system.ends_with("Use French."));
        assert_eq!(
            request.messages[1].text(),
            "Inputs:\n- refund my order please\n- refund it\nDistinctive words: refund\n"
        );
    }
}
