//! One call of a task or an evaluator as the runner makes it: bounded by the shared
//! concurrency limit, timed out, retried with backoff (or the callee's `retry_after`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Semaphore, mpsc};

use super::results::{Evaluations, SpanId, TraceId};
use super::wire::{self, MetricsOf, push_json};
use super::writer::Message;
use super::{RunOptions, TaskFn, spans};
use crate::datasets::DatasetRecord;
use crate::evaluators::{CallError, ErrorInfo, Evaluator, EvaluatorContext};

/// A random backoff for attempt `attempt` (0-based): `base·2^attempt`, 50–100 %.
pub(crate) fn backoff(base: Duration, attempt: u32) -> Duration {
    let top = base.saturating_mul(1u32 << attempt.min(16));
    top.mul_f64(0.5 + fastrand::f64() / 2.0).min(crate::api::MAX_RETRY_AFTER)
}

pub(crate) async fn attempt<T>(
    limit: Option<Duration>,
    what: &str,
    future: impl Future<Output = std::result::Result<T, CallError>>,
) -> std::result::Result<T, CallError> {
    match limit {
        None => future.await,
        Some(limit) => match tokio::time::timeout(limit, future).await {
            Ok(result) => result,
            Err(_) => {
                Err(CallError::new(format!("{what} timed out after {limit:?}")).kind("timeout"))
            }
        },
    }
}

/// Bounded concurrency and retries, shared by the records of one iteration.
pub(crate) struct Attempts {
    pub(crate) options: RunOptions,
    pub(crate) permits: Semaphore,
}

impl Attempts {
    pub(crate) fn new(options: &RunOptions) -> Self {
        Attempts { options: options.clone(), permits: Semaphore::new(options.jobs) }
    }

    /// Calls `make` up to `1 + max_retries` times under a permit, with backoff
    /// between attempts (permit released while waiting). Returns the result and the
    /// number of retries.
    pub(crate) async fn retried<T, Fut>(
        &self,
        limit: Option<Duration>,
        what: &str,
        make: impl Fn() -> Fut,
    ) -> (std::result::Result<T, CallError>, u32)
    where
        Fut: Future<Output = std::result::Result<T, CallError>>,
    {
        self.timed(limit, what, make).await.0
    }

    /// [`retried`](Self::retried), also returning when the first attempt started (once
    /// it had its permit): Unix nanoseconds and an instant.
    pub(crate) async fn timed<T, Fut>(
        &self,
        limit: Option<Duration>,
        what: &str,
        make: impl Fn() -> Fut,
    ) -> ((std::result::Result<T, CallError>, u32), (u64, std::time::Instant))
    where
        Fut: Future<Output = std::result::Result<T, CallError>>,
    {
        let mut tries = 0;
        let mut started = None;
        loop {
            let result = {
                let _permit = self.permits.acquire().await.expect("semaphore open");
                started.get_or_insert_with(|| (wire::now_ns(), std::time::Instant::now()));
                attempt(limit, what, make()).await
            };
            match result {
                Err(err) if tries < self.options.max_retries => {
                    let wait =
                        err.retry_after.unwrap_or_else(|| backoff(self.options.retry_delay, tries));
                    tokio::time::sleep(wait).await;
                    tries += 1;
                }
                other => {
                    let started = started.expect("set by the first attempt");
                    return ((other, tries), started);
                }
            }
        }
    }

    /// Runs every evaluator on `context`, in order; returns the evaluations and the
    /// metric objects (comma-separated JSON) with their count.
    pub(crate) async fn evaluate(
        &self,
        evaluators: &[(Arc<dyn Evaluator>, Arc<str>)],
        context: &EvaluatorContext,
        metrics_of: &MetricsOf<'_>,
    ) -> (Evaluations, Vec<u8>, usize) {
        let mut evaluations = Evaluations::with_capacity(evaluators.len());
        let mut metrics = Vec::new();
        let mut count = 0;
        for (evaluator, label) in evaluators {
            let (result, _) = self
                .retried(self.options.evaluator_timeout, label, || evaluator.evaluate(context))
                .await;
            for (label, outcome) in wire::scored(label, result) {
                push_json(
                    &mut metrics,
                    &metrics_of.metric(&label, &outcome, evaluator.source_type()),
                );
                count += 1;
                evaluations.insert(label, outcome);
            }
        }
        evaluations.shrink();
        (evaluations, metrics, count)
    }
}

/// A run's span tags as `(key, value)`, shared by its records and child spans.
pub(crate) type RunTags = Arc<Vec<(String, String)>>;

/// One task call on a record, all attempts included: what its span and row need.
pub(crate) struct TaskRun {
    pub(crate) span_id: SpanId,
    pub(crate) trace_id: TraceId,
    /// When the first attempt started (once it had its permit), Unix nanoseconds.
    pub(crate) start_ns: u64,
    pub(crate) duration_ns: u64,
    /// `null` when the task failed.
    pub(crate) output: Value,
    pub(crate) error: Option<Box<ErrorInfo>>,
    pub(crate) retries: u32,
}

impl Attempts {
    /// Runs `task` on `record` with retries. Child spans the task opens go to `scope`'s
    /// run, under this record's span.
    pub(crate) async fn run_task(
        &self,
        task: &TaskFn,
        record: &DatasetRecord,
        config: &Arc<Value>,
        scope: Option<(&mpsc::Sender<Message>, &RunTags)>,
    ) -> TaskRun {
        let span_id = wire::span_id();
        let trace_id = wire::trace_id(wire::now_ns());
        let scope = scope.map(|(tx, tags)| {
            Arc::new(spans::Scope {
                tx: tx.downgrade(),
                trace_id,
                parent: span_id,
                tags: tags.clone(),
                record_id: Arc::from(record.id.as_str()),
            })
        });
        let ((result, retries), (start_ns, started)) = self
            .timed(self.options.task_timeout, "task", || {
                let call = task(record.input.clone(), config.clone());
                let scope = scope.clone();
                async move {
                    match scope {
                        Some(scope) => spans::within(scope, call).await,
                        None => call.await,
                    }
                }
            })
            .await;
        let duration_ns = started.elapsed().as_nanos() as u64;
        let (output, error) = match result {
            Ok(output) => (output, None),
            Err(err) => (Value::Null, Some(Box::new(err.info()))),
        };
        TaskRun { span_id, trace_id, start_ns, duration_ns, output, error, retries }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_millis(100);
        for attempt in 0..5 {
            let wait = backoff(base, attempt);
            assert!(wait >= base * (1 << attempt) / 2 && wait <= base * (1 << attempt));
        }
        assert!(backoff(base, 40) <= crate::api::MAX_RETRY_AFTER);
    }
}
