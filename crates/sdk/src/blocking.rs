//! A blocking client, for programs without an async runtime.
//!
//! [`Client`] has the methods of [`crate::Client`] without `async`. It owns a private
//! thread running a single-threaded Tokio runtime: each call is sent there and the
//! calling thread waits for the answer, as `reqwest::blocking` does. A fresh in-memory
//! hit never leaves the calling thread. The thread stops when the last clone of the
//! client is dropped.
//!
//! # Panics
//!
//! Calling a blocking method from inside an async runtime panics (the wait would block
//! the runtime). From async code, use [`crate::Client`], or wrap the call in
//! `tokio::task::spawn_blocking`.
//!
//! ```no_run
//! let client = llmobs::blocking::Client::from_env()?;
//! let prompt = client.get_prompt("greeting")?;
//! println!("{:?}", prompt.format([("name", "Ada")])?);
//! # Ok::<(), llmobs::Error>(())
//! ```

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use std::borrow::Borrow;

use llmobs_core::prompts::{
    CreatePromptRequest, CreateVersionRequest, Deleted, UpdatePromptRequest, UpdateVersionRequest,
};
use tokio::sync::{mpsc, oneshot};

use crate::wire::{
    DatasetAttributes, DatasetVersion, Project, Resource, SearchSpansRequest, SpansResponse,
    UploadResult,
};

use crate::prompts::{GetPrompt, Prompt, PromptInfo, PromptVersion};
use crate::{
    CreateDataset, CsvImport, Dataset, DatasetRecord, Error, Experiment, ExperimentBuilder,
    ExperimentEvents, ExperimentInfo, ExperimentResults, ListExperiments, PullDataset, Push,
    Result, RunOptions,
};

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Builds a blocking [`Client`]; the same settings as [`crate::ClientBuilder`].
#[derive(Debug, Clone, Default)]
pub struct ClientBuilder {
    inner: crate::ClientBuilder,
}

macro_rules! forward {
    ($($(#[$doc:meta])* $name:ident($arg:ident: $ty:ty);)*) => {$(
        $(#[$doc])*
        pub fn $name(self, $arg: $ty) -> Self {
            ClientBuilder { inner: self.inner.$name($arg) }
        }
    )*};
}

impl ClientBuilder {
    /// Defaults and no keys; reads no environment variable.
    pub fn new() -> Self {
        ClientBuilder::default()
    }

    /// Preset from the environment, as [`crate::ClientBuilder::from_env`].
    pub fn from_env() -> Self {
        ClientBuilder { inner: crate::ClientBuilder::from_env() }
    }

    forward! {
        /// See [`crate::ClientBuilder::api_key`].
        api_key(key: impl Into<String>);
        /// See [`crate::ClientBuilder::app_key`].
        app_key(key: impl Into<String>);
        /// See [`crate::ClientBuilder::site`].
        site(site: impl Into<String>);
        /// See [`crate::ClientBuilder::origin`].
        origin(origin: impl Into<String>);
        /// See [`crate::ClientBuilder::env`].
        env(env: impl Into<String>);
        /// See [`crate::ClientBuilder::cache_ttl`].
        cache_ttl(ttl: Duration);
        /// See [`crate::ClientBuilder::file_cache`].
        file_cache(enabled: bool);
        /// See [`crate::ClientBuilder::cache_dir`].
        cache_dir(dir: impl AsRef<Path>);
        /// See [`crate::ClientBuilder::timeout`].
        timeout(timeout: Duration);
        /// See [`crate::ClientBuilder::hot_capacity`].
        hot_capacity(capacity: usize);
        /// See [`crate::ClientBuilder::project_name`].
        project_name(name: impl Into<String>);
        /// See [`crate::ClientBuilder::prompt_dir`].
        prompt_dir(dir: impl AsRef<Path>);
    }

    /// Builds the client and starts its runtime thread.
    pub fn build(self) -> Result<Client> {
        let client = self.inner.build()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|err| Error::Config(format!("could not start the runtime: {err}")))?;
        let handle = runtime.handle().clone();
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("llmobs-runtime".into())
            .spawn(move || {
                runtime.block_on(async move {
                    while let Some(job) = rx.recv().await {
                        tokio::spawn(job);
                    }
                });
            })
            .map_err(|err| Error::Config(format!("could not start the runtime thread: {err}")))?;
        Ok(Client {
            inner: Arc::new(Shared { client, runtime: handle, tx: Some(tx), thread: Some(thread) }),
        })
    }
}

/// The blocking prompt registry client. Cheap to clone; clones share the caches and
/// the runtime thread.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Shared>,
}

struct Shared {
    client: crate::Client,
    runtime: tokio::runtime::Handle,
    tx: Option<mpsc::UnboundedSender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Closing the channel ends the runtime thread's loop.
        self.tx.take();
        if let Some(thread) = self.thread.take()
            && thread.thread().id() != std::thread::current().id()
        {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("blocking::Client").field(&self.inner.client).finish()
    }
}

impl Client {
    /// A builder with defaults and no keys.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// A client configured from the environment.
    pub fn from_env() -> Result<Client> {
        ClientBuilder::from_env().build()
    }

    /// The async client this one drives, sharing its caches.
    pub fn as_async(&self) -> &crate::Client {
        &self.inner.client
    }

    /// Runs `work` on the runtime thread and waits for its result.
    fn run<T, F>(&self, work: impl FnOnce(crate::Client) -> F) -> T
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let future = work(self.inner.client.clone());
        let job: Job = Box::pin(async move {
            let _ = reply.send(future.await);
        });
        let tx = self.inner.tx.as_ref().expect("the runtime thread runs while a client exists");
        if tx.send(job).is_err() {
            panic!("the llmobs runtime thread has stopped");
        }
        answer.blocking_recv().expect("the llmobs runtime thread dropped a call")
    }

    /// See [`crate::Client::get_prompt`].
    pub fn get_prompt(&self, prompt_id: &str) -> Result<Arc<Prompt>> {
        self.get_prompt_with(prompt_id, &*crate::prompts::get::LATEST)
    }

    /// See [`crate::Client::get_prompt_with`]. A fresh in-memory hit is answered on the
    /// calling thread.
    pub fn get_prompt_with(
        &self,
        prompt_id: &str,
        options: impl Borrow<GetPrompt>,
    ) -> Result<Arc<Prompt>> {
        let options = options.borrow();
        if let Some(answer) =
            self.inner.client.get_hot(prompt_id, options, Some(&self.inner.runtime))
        {
            return answer;
        }
        let (id, options) = (prompt_id.to_owned(), options.clone());
        self.run(|client| async move { client.get_prompt_slow(&id, &options).await })
    }

    /// See [`crate::Client::refresh_prompt`].
    pub fn refresh_prompt(&self, prompt_id: &str, label: Option<&str>) -> Result<Arc<Prompt>> {
        let (id, label) = (prompt_id.to_owned(), label.map(str::to_owned));
        self.run(|client| async move { client.refresh_prompt(&id, label.as_deref()).await })
    }

    /// See [`crate::Client::clear_prompt_cache`].
    pub fn clear_prompt_cache(&self, hot: bool, warm: bool) {
        self.run(|client| async move { client.clear_prompt_cache(hot, warm).await })
    }

    /// See [`crate::Client::create_prompt`].
    pub fn create_prompt(&self, request: impl Into<CreatePromptRequest>) -> Result<PromptInfo> {
        let request = request.into();
        self.run(|client| async move { client.create_prompt(request).await })
    }

    /// See [`crate::Client::create_prompt_version`].
    pub fn create_prompt_version(
        &self,
        prompt_id: &str,
        request: impl Into<CreateVersionRequest>,
    ) -> Result<PromptVersion> {
        let (id, request) = (prompt_id.to_owned(), request.into());
        self.run(|client| async move { client.create_prompt_version(&id, request).await })
    }

    /// See [`crate::Client::update_prompt`].
    pub fn update_prompt(
        &self,
        prompt_id: &str,
        request: impl Into<UpdatePromptRequest>,
    ) -> Result<PromptInfo> {
        let request = request.into();
        let id = prompt_id.to_owned();
        self.run(|client| async move { client.update_prompt(&id, request).await })
    }

    /// See [`crate::Client::update_prompt_version`].
    pub fn update_prompt_version(
        &self,
        prompt_id: &str,
        version: u64,
        request: impl Into<UpdateVersionRequest>,
    ) -> Result<PromptVersion> {
        let (id, request) = (prompt_id.to_owned(), request.into());
        self.run(|client| async move { client.update_prompt_version(&id, version, request).await })
    }

    /// See [`crate::Client::set_label`].
    pub fn set_label(&self, prompt_id: &str, version: u64, label: &str) -> Result<PromptVersion> {
        let (id, label) = (prompt_id.to_owned(), label.to_owned());
        self.run(|client| async move { client.set_label(&id, version, &label).await })
    }

    /// See [`crate::Client::remove_label`].
    pub fn remove_label(
        &self,
        prompt_id: &str,
        version: u64,
        label: &str,
    ) -> Result<PromptVersion> {
        let (id, label) = (prompt_id.to_owned(), label.to_owned());
        self.run(|client| async move { client.remove_label(&id, version, &label).await })
    }

    /// See [`crate::Client::delete_prompt`].
    pub fn delete_prompt(&self, prompt_id: &str) -> Result<Deleted> {
        let id = prompt_id.to_owned();
        self.run(|client| async move { client.delete_prompt(&id).await })
    }

    /// See [`crate::Client::list_prompts`].
    pub fn list_prompts(&self) -> Result<Vec<PromptInfo>> {
        self.run(|client| async move { client.list_prompts().await })
    }

    /// See [`crate::Client::list_prompt_versions`].
    pub fn list_prompt_versions(&self, prompt_id: &str) -> Result<Vec<PromptVersion>> {
        let id = prompt_id.to_owned();
        self.run(|client| async move { client.list_prompt_versions(&id).await })
    }

    /// See [`crate::Client::get_prompt_version`].
    pub fn get_prompt_version(&self, prompt_id: &str, version: u64) -> Result<PromptVersion> {
        let id = prompt_id.to_owned();
        self.run(move |client| async move { client.get_prompt_version(&id, version).await })
    }

    /// See [`crate::Client::list_projects`].
    pub fn list_projects(&self) -> Result<Vec<Resource<Project>>> {
        self.run(|client| async move { client.list_projects().await })
    }

    /// See [`crate::Client::find_project`].
    pub fn find_project(&self, name: &str) -> Result<Option<Resource<Project>>> {
        let name = name.to_owned();
        self.run(|client| async move { client.find_project(&name).await })
    }

    /// See [`crate::Client::create_project`].
    pub fn create_project(&self, name: &str, description: &str) -> Result<Resource<Project>> {
        let (name, description) = (name.to_owned(), description.to_owned());
        self.run(|client| async move { client.create_project(&name, &description).await })
    }

    /// See [`crate::Client::delete_projects`].
    pub fn delete_projects(&self, project_ids: &[String]) -> Result<()> {
        let ids = project_ids.to_vec();
        self.run(|client| async move { client.delete_projects(&ids).await })
    }

    /// See [`crate::Client::list_datasets`].
    pub fn list_datasets(
        &self,
        project_id: &str,
        name: Option<&str>,
    ) -> Result<Vec<Resource<DatasetAttributes>>> {
        let (project_id, name) = (project_id.to_owned(), name.map(str::to_owned));
        self.run(|client| async move { client.list_datasets(&project_id, name.as_deref()).await })
    }

    /// See [`crate::Client::dataset_versions`].
    pub fn dataset_versions(
        &self,
        project_id: &str,
        dataset_id: &str,
    ) -> Result<Vec<Resource<DatasetVersion>>> {
        let (project_id, dataset_id) = (project_id.to_owned(), dataset_id.to_owned());
        self.run(|client| async move { client.dataset_versions(&project_id, &dataset_id).await })
    }

    /// See [`crate::Client::delete_datasets`].
    pub fn delete_datasets(&self, project_id: &str, dataset_ids: &[String]) -> Result<()> {
        let (project_id, ids) = (project_id.to_owned(), dataset_ids.to_vec());
        self.run(|client| async move { client.delete_datasets(&project_id, &ids).await })
    }

    /// See [`crate::Client::upload_dataset_file`].
    pub fn upload_dataset_file(
        &self,
        project_id: &str,
        dataset_id: &str,
        upload: &crate::FileUpload,
    ) -> Result<Resource<UploadResult>> {
        let (project_id, dataset_id, upload) =
            (project_id.to_owned(), dataset_id.to_owned(), upload.clone());
        self.run(|client| async move {
            client.upload_dataset_file(&project_id, &dataset_id, &upload).await
        })
    }

    /// See [`crate::Client::delete_experiments`].
    pub fn delete_experiments(&self, experiment_ids: &[String]) -> Result<()> {
        let ids = experiment_ids.to_vec();
        self.run(|client| async move { client.delete_experiments(&ids).await })
    }

    /// See [`crate::Client::search_spans`].
    pub fn search_spans(&self, request: &SearchSpansRequest) -> Result<SpansResponse> {
        let request = request.clone();
        self.run(|client| async move { client.search_spans(&request).await })
    }

    /// See [`crate::Client::create_dataset`].
    pub fn create_dataset<Q: serde::Serialize + 'static, A: serde::Serialize + 'static>(
        &self,
        name: &str,
        records: impl IntoIterator<Item = DatasetRecord<Q, A>>,
    ) -> Result<Dataset> {
        self.create_dataset_with(CreateDataset::new(name), records)
    }

    /// See [`crate::Client::create_dataset_with`].
    pub fn create_dataset_with<Q: serde::Serialize + 'static, A: serde::Serialize + 'static>(
        &self,
        options: impl Borrow<CreateDataset>,
        records: impl IntoIterator<Item = DatasetRecord<Q, A>>,
    ) -> Result<Dataset> {
        let options = options.borrow();
        let records =
            records.into_iter().map(DatasetRecord::into_json).collect::<Result<Vec<_>>>()?;
        let options = options.clone();
        self.run(|client| async move { client.create_dataset_with(&options, records).await })
    }

    /// See [`crate::Client::create_dataset_from_csv`].
    pub fn create_dataset_from_csv(&self, import: impl Borrow<CsvImport>) -> Result<Dataset> {
        let import = import.borrow();
        let import = import.clone();
        self.run(|client| async move { client.create_dataset_from_csv(&import).await })
    }

    /// See [`crate::Client::push_dataset_with`] with default options.
    pub fn push_dataset(&self, dataset: &mut Dataset) -> Result<()> {
        self.push_dataset_with(dataset, Push::default())
    }

    /// See [`crate::Client::push_dataset_with`].
    pub fn push_dataset_with(
        &self,
        dataset: &mut Dataset,
        options: impl Borrow<Push>,
    ) -> Result<()> {
        let options = options.borrow();
        let (mut owned, options) = (std::mem::take(dataset), *options);
        let (owned, result) = self.run(|client| async move {
            let result = client.push_dataset_with(&mut owned, &options).await;
            (owned, result)
        });
        *dataset = owned;
        result
    }

    /// See [`crate::Client::pull_dataset`].
    pub fn pull_dataset(&self, name: &str) -> Result<Dataset> {
        self.pull_dataset_with(name, PullDataset::default())
    }

    /// See [`crate::Client::pull_dataset_with`].
    pub fn pull_dataset_with(
        &self,
        name: &str,
        options: impl Borrow<PullDataset>,
    ) -> Result<Dataset> {
        let options = options.borrow();
        let (name, options) = (name.to_owned(), options.clone());
        self.run(|client| async move { client.pull_dataset_with(&name, &options).await })
    }

    /// See [`crate::Client::delete_dataset`].
    pub fn delete_dataset(&self, dataset_id: &str) -> Result<()> {
        let id = dataset_id.to_owned();
        self.run(|client| async move { client.delete_dataset(&id).await })
    }

    /// See [`crate::Client::experiment`]. The task is still an async closure; it runs
    /// on this client's runtime thread. Run the experiment with
    /// [`run_experiment`](Self::run_experiment).
    pub fn experiment<F, Fut, Q, O, E>(
        &self,
        name: impl Into<String>,
        dataset: impl Into<Arc<Dataset>>,
        task: F,
    ) -> ExperimentBuilder
    where
        F: Fn(Q, Arc<serde_json::Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<O, E>> + Send + 'static,
        Q: serde::de::DeserializeOwned + 'static,
        O: serde::Serialize,
        E: Into<crate::error::BoxError>,
    {
        self.inner.client.experiment(name, dataset, task)
    }

    /// Runs an experiment and waits for it (see [`crate::Experiment::run`]).
    pub fn run_experiment(
        &self,
        experiment: &Experiment,
        options: RunOptions,
    ) -> Result<ExperimentResults> {
        let experiment = experiment.clone();
        self.run(|_| async move { experiment.run(options).await })
    }

    /// See [`crate::Client::list_experiments`].
    pub fn list_experiments(
        &self,
        filter: impl Borrow<ListExperiments>,
    ) -> Result<Vec<ExperimentInfo>> {
        let filter = filter.borrow();
        let filter = filter.clone();
        self.run(|client| async move { client.list_experiments(&filter).await })
    }

    /// See [`crate::Client::experiment_events`].
    pub fn experiment_events(&self, experiment_id: &str) -> Result<ExperimentEvents> {
        let id = experiment_id.to_owned();
        self.run(|client| async move { client.experiment_events(&id).await })
    }

    /// See [`crate::Client::pull_experiment`].
    pub fn pull_experiment(&self, experiment_id: &str) -> Result<crate::PulledExperiment> {
        let id = experiment_id.to_owned();
        self.run(|client| async move { client.pull_experiment(&id).await })
    }

    /// See [`crate::Client::rerun_evaluators`]; run it with
    /// [`run_rerun`](Self::run_rerun).
    pub fn rerun_evaluators(&self, experiment_id: impl Into<String>) -> crate::Rerun {
        self.inner.client.rerun_evaluators(experiment_id)
    }

    /// See [`crate::Client::publish_evaluator_with`]; returns the UI link.
    pub fn publish_evaluator(
        &self,
        judge: &crate::LLMJudge,
        agent_service: &str,
        options: impl Borrow<crate::PublishEvaluator>,
    ) -> Result<String> {
        let options = options.borrow();
        let (judge, service, options) = (judge.clone(), agent_service.to_owned(), options.clone());
        self.run(
            |client| async move { client.publish_evaluator_with(&judge, &service, &options).await },
        )
    }

    /// Runs a rerun and waits for it (see [`crate::Rerun::run`]).
    pub fn run_rerun(&self, rerun: crate::Rerun, options: RunOptions) -> Result<ExperimentResults> {
        self.run(|_| async move { rerun.run(options).await })
    }
}
