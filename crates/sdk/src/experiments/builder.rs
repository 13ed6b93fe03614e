//! Configuring an experiment: [`ExperimentBuilder`] (task, evaluators, config, tags,
//! runs) and the [`Experiment`] it builds; the evaluator-adding methods it shares with
//! reruns.

use std::future::Future;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::remote;
use crate::datasets::Dataset;
use crate::error::BoxError;
use crate::evaluators::{
    BoxFuture, CallError, Evaluator, EvaluatorContext, FnEvaluator, FnSummary, IntoEvaluation,
    RemoteEvaluator, SummaryContext, SummaryEvaluator, from_value, valid_name,
};
use crate::{Client, Error, Result};

pub(crate) type TaskFn =
    Arc<dyn Fn(Value, Arc<Value>) -> BoxFuture<'static, Result<Value, CallError>> + Send + Sync>;

/// A row evaluator as configured: local, or run by the server once bound to a client.
#[derive(Clone)]
pub(crate) enum EvaluatorSlot {
    Local(Arc<dyn Evaluator>),
    Remote(RemoteEvaluator),
}

impl EvaluatorSlot {
    pub(crate) fn bind(&self, client: &Client) -> Arc<dyn Evaluator> {
        match self {
            EvaluatorSlot::Local(e) => e.clone(),
            EvaluatorSlot::Remote(spec) => {
                Arc::new(remote::Remote { client: client.clone(), spec: spec.clone() })
            }
        }
    }

    pub(crate) fn check(&self) -> Result<()> {
        let detail = match self {
            EvaluatorSlot::Local(e) if !valid_name(e.name()) => {
                format!("evaluator name '{}' must match ^[a-zA-Z0-9_-]+$", e.name())
            }
            EvaluatorSlot::Remote(r) if r.eval_name.is_empty() => {
                "a remote evaluator needs a name".to_owned()
            }
            _ => return Ok(()),
        };
        Err(Error::InvalidRequest { detail })
    }
}

/// Evaluators and summary evaluators, as both experiments and reruns collect them.
#[derive(Clone, Default)]
pub(crate) struct Scoring {
    pub(crate) evaluators: Vec<EvaluatorSlot>,
    pub(crate) summary: Vec<Arc<dyn SummaryEvaluator>>,
}

impl Scoring {
    /// Checks names; `what` (`an experiment`, `a rerun`) needs at least one evaluator.
    pub(crate) fn check(&self, what: &str) -> Result<()> {
        if self.evaluators.is_empty() {
            return Err(Error::InvalidRequest {
                detail: format!("{what} needs at least one evaluator"),
            });
        }
        for slot in &self.evaluators {
            slot.check()?;
        }
        for summary in &self.summary {
            if !valid_name(summary.name()) {
                return Err(Error::InvalidRequest {
                    detail: format!(
                        "summary evaluator name '{}' must match ^[a-zA-Z0-9_-]+$",
                        summary.name()
                    ),
                });
            }
        }
        Ok(())
    }

    /// The evaluators bound to `client`, each with its label.
    pub(crate) fn bind(&self, client: &Client) -> Vec<(Arc<dyn Evaluator>, Arc<str>)> {
        self.evaluators
            .iter()
            .map(|slot| {
                let evaluator = slot.bind(client);
                let label = Arc::from(evaluator.name());
                (evaluator, label)
            })
            .collect()
    }
}

/// The evaluator-adding methods shared by [`ExperimentBuilder`] and [`Rerun`].
macro_rules! scoring_methods {
    ($($scoring:ident).+) => {
        /// Adds a closure evaluator labelled `name`. It sees an
        /// [`EvaluatorContext`] over JSON values, or over the types it names (the row is
        /// read into them); it returns a plain value, an
        /// [`EvaluatorResult`](crate::EvaluatorResult), a
        /// [`MultiEvaluatorResult`](crate::MultiEvaluatorResult), an `Option` of those
        /// (`None`: no evaluation for this row), or a `Result` of those with any error.
        pub fn evaluator<F, R, Q, O, A>(mut self, name: impl Into<String>, f: F) -> Self
        where
            F: Fn(&EvaluatorContext<Q, O, A>) -> R + Send + Sync + 'static,
            R: IntoEvaluation + 'static,
            Q: serde::de::DeserializeOwned + 'static,
            O: serde::de::DeserializeOwned + 'static,
            A: serde::de::DeserializeOwned + 'static,
        {
            let evaluator = FnEvaluator::new::<Q, O, A>(name.into(), f);
            self.$($scoring).+.evaluators.push(EvaluatorSlot::Local(Arc::new(evaluator)));
            self
        }

        /// Adds an [`Evaluator`] (stateful or async).
        pub fn evaluator_impl(mut self, evaluator: impl Evaluator) -> Self {
            self.$($scoring).+.evaluators.push(EvaluatorSlot::Local(Arc::new(evaluator)));
            self
        }

        /// Adds an evaluator run by the server (E13).
        pub fn remote_evaluator(mut self, evaluator: RemoteEvaluator) -> Self {
            self.$($scoring).+.evaluators.push(EvaluatorSlot::Remote(evaluator));
            self
        }

        /// Adds a summary evaluator labelled `name`, called once per iteration with every
        /// row's results (see [`SummaryContext`] for the denominator).
        pub fn summary_evaluator<F, R>(mut self, name: impl Into<String>, f: F) -> Self
        where
            F: Fn(&SummaryContext) -> R + Send + Sync + 'static,
            R: IntoEvaluation + 'static,
        {
            self.$($scoring).+.summary.push(Arc::new(FnSummary { name: name.into(), f }));
            self
        }

        /// Adds a [`SummaryEvaluator`] (stateful or async).
        pub fn summary_evaluator_impl(mut self, evaluator: impl SummaryEvaluator) -> Self {
            self.$($scoring).+.summary.push(Arc::new(evaluator));
            self
        }
    };
}
pub(crate) use scoring_methods;

pub(crate) struct Setup {
    pub(crate) client: Client,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) project_name: Option<String>,
    pub(crate) dataset: Arc<Dataset>,
    pub(crate) task: TaskFn,
    pub(crate) task_name: String,
    pub(crate) scoring: Scoring,
    pub(crate) config: Map<String, Value>,
    pub(crate) tags: Vec<(String, String)>,
    pub(crate) runs: u32,
}

/// Builds an [`Experiment`]; from [`Client::experiment`]. Nothing is sent until
/// [`Experiment::run`].
pub struct ExperimentBuilder {
    pub(crate) setup: Setup,
}

/// Wraps an async closure over inputs of type `Q` returning any serializable output
/// as a [`TaskFn`]. An input that does not deserialize into `Q` fails that record's
/// task with a `DeserializationError`.
pub(crate) fn task_fn<F, Fut, Q, O, E>(task: F) -> TaskFn
where
    F: Fn(Q, Arc<Value>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = std::result::Result<O, E>> + Send + 'static,
    Q: DeserializeOwned + 'static,
    O: Serialize,
    E: Into<BoxError>,
{
    Arc::new(move |input, config| {
        let future = from_value::<Q>(input).map(|input| task(input, config)).map_err(|err| {
            CallError::new(format!(
                "the record's input cannot be read as {}: {err}",
                std::any::type_name::<Q>()
            ))
            .kind("DeserializationError")
        });
        Box::pin(async move {
            match future?.await {
                Ok(output) => serde_json::to_value(output)
                    .map_err(|err| CallError::new(err.to_string()).kind("SerializationError")),
                Err(err) => Err(CallError::from_error(err)),
            }
        })
    })
}

impl Client {
    /// An experiment named `name` running `task` over `dataset`.
    ///
    /// `task` is an async closure over the record's input and the experiment's config
    /// (an object; `{}` by default). The input is a [`Value`], or any type the closure
    /// names that the input deserializes into (a record that does not fails its row
    /// with a `DeserializationError`). It returns any serializable output, or any error
    /// ([`CallError`] to set the type or ask for a delay before a retry). Pass an
    /// `Arc<Dataset>` to share a large dataset without copying.
    pub fn experiment<F, Fut, Q, O, E>(
        &self,
        name: impl Into<String>,
        dataset: impl Into<Arc<Dataset>>,
        task: F,
    ) -> ExperimentBuilder
    where
        F: Fn(Q, Arc<Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<O, E>> + Send + 'static,
        Q: DeserializeOwned + 'static,
        O: Serialize,
        E: Into<BoxError>,
    {
        ExperimentBuilder {
            setup: Setup {
                client: self.clone(),
                name: name.into(),
                description: String::new(),
                project_name: None,
                dataset: dataset.into(),
                task: task_fn(task),
                task_name: "task".to_owned(),
                scoring: Scoring::default(),
                config: Map::new(),
                tags: Vec::new(),
                runs: 1,
            },
        }
    }
}

impl From<&Dataset> for Arc<Dataset> {
    fn from(dataset: &Dataset) -> Self {
        Arc::new(dataset.clone())
    }
}

impl ExperimentBuilder {
    scoring_methods!(setup.scoring);

    /// The configuration passed to the task (a JSON object).
    pub fn config(mut self, config: Value) -> Self {
        self.setup.config = match config {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => Map::from_iter([("value".to_owned(), other)]),
        };
        self
    }

    /// Adds tags (`key`, `value`).
    pub fn tags<K: Into<String>, V: Into<String>>(
        mut self,
        tags: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.setup.tags.extend(tags.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// The description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.setup.description = description.into();
        self
    }

    /// The project (default: the client's project).
    pub fn project_name(mut self, name: impl Into<String>) -> Self {
        self.setup.project_name = Some(name.into());
        self
    }

    /// The name of the records' spans (default `task`).
    pub fn task_name(mut self, name: impl Into<String>) -> Self {
        self.setup.task_name = name.into();
        self
    }

    /// Runs the whole dataset `runs` times (default 1).
    pub fn runs(mut self, runs: u32) -> Self {
        self.setup.runs = runs;
        self
    }

    /// Checks the setup (no network).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] without evaluators, with an invalid evaluator name,
    /// zero runs or an empty name.
    pub fn build(self) -> Result<Experiment> {
        let setup = self.setup;
        if setup.name.trim().is_empty() {
            return Err(Error::InvalidRequest { detail: "an experiment needs a name".into() });
        }
        if setup.runs == 0 {
            return Err(Error::InvalidRequest { detail: "runs must be at least 1".into() });
        }
        setup.scoring.check("an experiment")?;
        Ok(Experiment { setup: Arc::new(setup), id: Arc::new(Mutex::new(None)) })
    }
}

/// A configured experiment. Cheap to clone. Each [`run`](Self::run) creates a new
/// experiment on the server.
#[derive(Clone)]
pub struct Experiment {
    pub(crate) setup: Arc<Setup>,
    pub(crate) id: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for Experiment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Experiment")
            .field("name", &self.setup.name)
            .field("dataset", &self.setup.dataset.name())
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}
