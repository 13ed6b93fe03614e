//! The experiment runner: a task over a dataset's records, scored by evaluators, with
//! one span per record (E15) and metrics streamed to the server (E11) (spec §4).
//!
//! - [`builder`]: configuring an experiment (task, evaluators, config, runs);
//! - [`run`]: running it: iterations, summary evaluators, statuses, stopping;
//! - [`record`]: one record of an iteration: task, evaluations, span tags;
//! - [`attempts`]: concurrency, timeouts and retries of each call;
//! - [`progress`]: the progress bar and Ctrl-C;
//! - [`results`]: rows, evaluations and their table, CSV and JSON Lines forms;
//! - [`wire`]: metric and span serialization; [`writer`]: the background task posting them;
//! - [`spans`]: child spans opened inside a task;
//! - [`remote`]: server-side evaluators (E13);
//! - [`list`]: listing and reading back experiments (E10, E12);
//! - [`rerun`]: re-scoring stored outputs with new evaluators (§4.11).

mod attempts;
mod builder;
mod list;
mod progress;
mod record;
mod remote;
mod rerun;
mod results;
mod run;
mod spans;
mod wire;
mod writer;

use std::time::Duration;

use serde::Serialize;
pub use tokio_util::sync::CancellationToken;

pub use builder::{Experiment, ExperimentBuilder};
pub use list::{ExperimentInfo, ListExperiments, PulledExperiment};
pub use rerun::{MissingTask, Rerun};
pub use results::{
    EvaluationOutcome, Evaluations, ExperimentResults, Row, RunResult, SpanId, TraceId,
};
pub use spans::{ChildSpan, SpanKind};

pub(crate) use attempts::{Attempts, RunTags, TaskRun};
pub(crate) use builder::{EvaluatorSlot, Scoring, TaskFn, scoring_methods, task_fn};
pub(crate) use record::{context_metadata, record_tags};
pub(crate) use run::{create_experiment, set_status, summarize};

use crate::{Error, Result};

/// An experiment's status (spec §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not run yet.
    Created,
    /// Running.
    Running,
    /// Every record done, nothing failed.
    Completed,
    /// Every record done, something failed (see the error text).
    Failed,
    /// Stopped early: cancelled, `raise_errors`, or a failing summary post.
    Interrupted,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Status {
    /// The wire text.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Interrupted => "interrupted",
        }
    }

    /// The status of wire text `text` (`created` for anything unknown).
    pub fn parse(text: &str) -> Status {
        match text {
            "running" => Status::Running,
            "completed" => Status::Completed,
            "failed" => Status::Failed,
            "interrupted" => Status::Interrupted,
            _ => Status::Created,
        }
    }
}

/// Options of [`Experiment::run`].
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// At most this many tasks and evaluations at once (default 10).
    pub jobs: usize,
    /// Only the first `n` records.
    pub sample_size: Option<usize>,
    /// Extra attempts of a failing task or evaluator (default 0).
    pub max_retries: u32,
    /// The first backoff; attempt `n` waits `retry_delay·2^n`, jittered to 50–100 %,
    /// unless the failure carries a `retry_after` (default 100 ms).
    pub retry_delay: Duration,
    /// Longest time for one task attempt; a timeout is a failed attempt.
    pub task_timeout: Option<Duration>,
    /// Longest time for one evaluator attempt; a timeout is a failed attempt.
    pub evaluator_timeout: Option<Duration>,
    /// Stop at the first failure (after retries) with [`Error::Experiment`]; the
    /// experiment becomes `interrupted`.
    pub raise_errors: bool,
    /// Cancelling it stops the run: unfinished records are dropped, finished ones are
    /// kept on the server, the experiment becomes `interrupted` and `run` returns
    /// [`Error::Interrupted`].
    pub cancel: Option<CancellationToken>,
    /// Cancel on Ctrl-C (SIGINT) while running.
    pub ctrl_c: bool,
    /// Show a progress bar (indicatif) when stderr is a terminal (default true; never
    /// otherwise).
    pub progress: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            jobs: 10,
            sample_size: None,
            max_retries: 0,
            retry_delay: Duration::from_millis(100),
            task_timeout: None,
            evaluator_timeout: None,
            raise_errors: false,
            cancel: None,
            ctrl_c: false,
            progress: true,
        }
    }
}

impl RunOptions {
    fn check(&self) -> Result<()> {
        if self.jobs == 0 {
            return Err(Error::InvalidRequest { detail: "jobs must be at least 1".into() });
        }
        Ok(())
    }
}
