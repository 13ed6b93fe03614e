//! Child spans inside a task (spec §6 item 6): an LLM call, a tool, a workflow step,
//! each sent to span intake under the record's experiment span, in its trace, with the
//! experiment's tags.
//!
//! A task finds its record's span through a task-local set by the runner, so
//! [`ChildSpan::start`] needs no handle. Outside a task (or in a task spawned from it
//! with `tokio::spawn`) a child span records nothing.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;

use super::results::{SpanId, TraceId};
use super::wire::{self, Span, SpanEvent, Tags, push_json};
use super::writer::Message;
use crate::evaluators::ErrorInfo;

/// The kinds of span a task may open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// A call to a language model.
    Llm,
    /// A tool or function call.
    Tool,
    /// A fixed sequence of steps.
    Workflow,
    /// A step of a workflow.
    Task,
    /// An agent's turn.
    Agent,
    /// A document search.
    Retrieval,
    /// An embedding call.
    Embedding,
}

impl SpanKind {
    /// The wire text of `meta.span.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            SpanKind::Llm => "llm",
            SpanKind::Tool => "tool",
            SpanKind::Workflow => "workflow",
            SpanKind::Task => "task",
            SpanKind::Agent => "agent",
            SpanKind::Retrieval => "retrieval",
            SpanKind::Embedding => "embedding",
        }
    }
}

/// Where child spans of the running record go.
pub(crate) struct Scope {
    /// Weak, so a span kept past its run never keeps the writer waiting.
    pub tx: mpsc::WeakSender<Message>,
    pub trace_id: TraceId,
    pub parent: SpanId,
    /// The run's span tags.
    pub tags: super::RunTags,
    /// The record's id, also a tag.
    pub record_id: Arc<str>,
}

tokio::task_local! {
    static SCOPE: Arc<Scope>;
}

/// Runs `future` with `scope` as the parent of the child spans it starts.
pub(crate) async fn within<F: Future>(scope: Arc<Scope>, future: F) -> F::Output {
    SCOPE.scope(scope, future).await
}

/// A span opened inside a task; sent when finished or dropped.
///
/// ```no_run
/// # async fn task(input: serde_json::Value) -> serde_json::Value {
/// use llmobs::{ChildSpan, SpanKind};
/// let mut span = ChildSpan::start(SpanKind::Llm, "answer");
/// span.input(input.clone());
/// let output = span.run(async { serde_json::json!("Paris") }).await;
/// span.output(output.clone());
/// output
/// # }
/// ```
pub struct ChildSpan {
    scope: Option<Arc<Scope>>,
    span_id: SpanId,
    kind: SpanKind,
    name: String,
    start_ns: u64,
    started: std::time::Instant,
    input: Value,
    output: Value,
    metadata: Option<Value>,
    error: Option<ErrorInfo>,
}

impl std::fmt::Debug for ChildSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildSpan")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("span_id", &self.span_id)
            .field("recording", &self.scope.is_some())
            .finish_non_exhaustive()
    }
}

impl ChildSpan {
    /// Opens a span under the current record's span (or under the child span whose
    /// [`run`](Self::run) is executing).
    pub fn start(kind: SpanKind, name: impl Into<String>) -> ChildSpan {
        ChildSpan {
            scope: SCOPE.try_with(Arc::clone).ok(),
            span_id: wire::span_id(),
            kind,
            name: name.into(),
            start_ns: wire::now_ns(),
            started: std::time::Instant::now(),
            input: Value::Null,
            output: Value::Null,
            metadata: None,
            error: None,
        }
    }

    /// Whether it is inside an experiment task, so that it will be sent.
    pub fn is_recording(&self) -> bool {
        self.scope.is_some()
    }

    /// Its id.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// Sets the input.
    pub fn input(&mut self, input: impl Into<Value>) -> &mut Self {
        self.input = input.into();
        self
    }

    /// Sets the output.
    pub fn output(&mut self, output: impl Into<Value>) -> &mut Self {
        self.output = output.into();
        self
    }

    /// Sets the metadata (an object).
    pub fn metadata(&mut self, metadata: impl Into<Value>) -> &mut Self {
        self.metadata = Some(metadata.into());
        self
    }

    /// Marks it failed.
    pub fn error(&mut self, message: impl Into<String>, kind: impl Into<String>) -> &mut Self {
        self.error =
            Some(ErrorInfo { message: message.into(), kind: kind.into(), stack: String::new() });
        self
    }

    /// Runs `future` with this span as the parent of the spans it starts.
    pub async fn run<F: Future>(&self, future: F) -> F::Output {
        match &self.scope {
            Some(scope) => {
                let inner = Arc::new(Scope {
                    tx: scope.tx.clone(),
                    trace_id: scope.trace_id,
                    parent: self.span_id,
                    tags: scope.tags.clone(),
                    record_id: scope.record_id.clone(),
                });
                within(inner, future).await
            }
            None => future.await,
        }
    }

    /// Ends it now (dropping it does the same).
    pub fn finish(self) {}

    fn send(&mut self) {
        let Some(scope) = self.scope.take() else { return };
        let record_tag = [(Cow::Borrowed("dataset_record_id"), Cow::Borrowed(&*scope.record_id))];
        let span = Span {
            name: &self.name,
            span_id: self.span_id,
            trace_id: scope.trace_id,
            parent_id: Some(scope.parent),
            start_ns: self.start_ns,
            duration_ns: self.started.elapsed().as_nanos() as u64,
            kind: self.kind.as_str(),
            input: &self.input,
            output: &self.output,
            expected_output: None,
            metadata: self.metadata.as_ref(),
            error: self.error.as_ref(),
            config: None,
            tags: Tags { run: &scope.tags, record: &record_tag },
        };
        let mut spans = Vec::new();
        push_json(&mut spans, &SpanEvent(&span));
        // A span finished after its run ended is dropped; a full queue waits.
        let Some(tx) = scope.tx.upgrade() else { return };
        if let Err(mpsc::error::TrySendError::Full(message)) =
            tx.try_send(Message::Record { spans, metrics: Vec::new(), count: 0 })
        {
            tokio::spawn(async move {
                let _ = tx.send(message).await;
            });
        }
    }
}

impl Drop for ChildSpan {
    fn drop(&mut self) {
        self.send();
    }
}
