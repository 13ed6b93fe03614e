//! Calls to the management and query routes of Datadog's public API that the experiment
//! runner does not need: projects (list, create, delete), datasets of a project (list,
//! versions, delete, export, file upload), experiment deletes and the span search.
//!
//! Answers are the API's own wire types ([`crate::wire`]), so a caller can print exactly
//! what the server sent.

use std::path::PathBuf;
use std::sync::Arc;

use llmobs_core::datasets::{
    DATASETS, DatasetAttributes, DeleteDatasets, PROJECTS, Project, ProjectRequest, UploadResult,
};
use llmobs_core::encoding::{path_segment, query_value};
use llmobs_core::experiments::EXPERIMENTS;
use llmobs_core::jsonapi::{Document, Request, Resource};
use llmobs_core::public::{DatasetVersion, DeleteExperiments, DeleteProjects, ExportFormat};
use llmobs_core::spans::{SearchSpansRequest, SpansResponse};
use reqwest::Method;
use serde::de::DeserializeOwned;

use crate::api::{Body, JSON_TIMEOUT, LIST_TIMEOUT, UNSTABLE, UPLOAD_TIMEOUT, V2, json_body};
use crate::{Client, Error, Result};

/// The public upload route's prefix (`/{project_id}/datasets/{id}/records/upload`).
const V2_UPLOAD: &str = "/api/v2/llm-obs/v2";
/// The multipart boundary of a file upload.
const FILE_BOUNDARY: &str = "llmobs-file-upload-7f3c1a";

/// Called with the number of bytes sent or received so far.
pub type Progress = Arc<dyn Fn(u64) + Send + Sync>;

/// A CSV file to add to a dataset as one new version ([`Client::upload_dataset_file`]).
///
/// The file has an `input` column and optionally `id`, `expected_output`, `metadata` and
/// `tags`; a cell holding JSON is that JSON, other text a string, an empty cell absent.
/// It is streamed as it is read: memory stays flat whatever its size.
#[derive(Clone)]
pub struct FileUpload {
    /// The CSV file.
    pub path: PathBuf,
    /// Skip rows equal to a live record (default false).
    pub deduplicate: bool,
    /// Let a row replace the live record with its id (default true).
    pub overwrite: bool,
    /// `key:value` tags added to every row.
    pub tags: Vec<String>,
    /// Told how many bytes of the file were sent so far.
    pub progress: Option<Progress>,
}

impl FileUpload {
    /// An upload of `path` with the server's defaults.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileUpload {
            path: path.into(),
            deduplicate: false,
            overwrite: true,
            tags: Vec::new(),
            progress: None,
        }
    }
}

impl std::fmt::Debug for FileUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileUpload")
            .field("path", &self.path)
            .field("deduplicate", &self.deduplicate)
            .field("overwrite", &self.overwrite)
            .field("tags", &self.tags)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Every page of a listing that pages with `page[cursor]` and `meta.after`.
    async fn all_pages<A: DeserializeOwned>(&self, base: &str) -> Result<Vec<Resource<A>>> {
        let mut out = Vec::new();
        let mut cursor = String::new();
        let join = if base.contains('?') { '&' } else { '?' };
        loop {
            let path = if cursor.is_empty() {
                base.to_owned()
            } else {
                format!("{base}{join}page[cursor]={}", query_value(&cursor))
            };
            let page: Document<Vec<Resource<A>>> =
                self.call(Method::GET, &path, None, LIST_TIMEOUT, &[200]).await?;
            out.extend(page.data);
            cursor = page.meta.map(|m| m.after).unwrap_or_default();
            if cursor.is_empty() {
                return Ok(out);
            }
        }
    }

    /// The org's projects, oldest first (`GET /projects`, every page).
    pub async fn list_projects(&self) -> Result<Vec<Resource<Project>>> {
        self.all_pages(&format!("{V2}/projects?page[limit]=1000")).await
    }

    /// The project named `name`, if there is one; creates nothing.
    pub async fn find_project(&self, name: &str) -> Result<Option<Resource<Project>>> {
        let path = format!("{V2}/projects?filter[name]={}", query_value(name));
        Ok(self.all_pages(&path).await?.into_iter().next())
    }

    /// Creates project `name`, or answers the existing project of that name
    /// (`POST /projects`).
    pub async fn create_project(&self, name: &str, description: &str) -> Result<Resource<Project>> {
        let request = Request::new(
            PROJECTS,
            ProjectRequest { name: name.to_owned(), description: Some(description.to_owned()) },
        );
        let answer: Document<Resource<Project>> = self
            .call(
                Method::POST,
                &format!("{UNSTABLE}/projects"),
                Some(json_body(&request)?),
                JSON_TIMEOUT,
                &[200, 201],
            )
            .await?;
        Ok(answer.data)
    }

    /// Deletes projects with their datasets and experiments (`POST /projects/delete`); all
    /// or nothing: an unknown id is a [`Error::NotFound`] and nothing is deleted.
    pub async fn delete_projects(&self, project_ids: &[String]) -> Result<()> {
        let request = Request::new(PROJECTS, DeleteProjects { project_ids: project_ids.to_vec() });
        self.call_empty(Method::POST, &format!("{V2}/projects/delete"), json_body(&request)?).await
    }

    /// The datasets of a project, oldest first; only the one named `name` when given.
    pub async fn list_datasets(
        &self,
        project_id: &str,
        name: Option<&str>,
    ) -> Result<Vec<Resource<DatasetAttributes>>> {
        let mut path = format!("{V2}/{}/datasets?page[limit]=1000", path_segment(project_id));
        if let Some(name) = name {
            path.push_str(&format!("&filter[name]={}", query_value(name)));
        }
        self.all_pages(&path).await
    }

    /// A dataset's versions, newest first (`GET …/versions`).
    pub async fn dataset_versions(
        &self,
        project_id: &str,
        dataset_id: &str,
    ) -> Result<Vec<Resource<DatasetVersion>>> {
        let path = format!(
            "{V2}/{}/datasets/{}/versions",
            path_segment(project_id),
            path_segment(dataset_id)
        );
        let answer: Document<Vec<Resource<DatasetVersion>>> =
            self.call(Method::GET, &path, None, JSON_TIMEOUT, &[200]).await?;
        Ok(answer.data)
    }

    /// Deletes datasets of a project (`POST /{project_id}/datasets/delete`); all or nothing.
    pub async fn delete_datasets(&self, project_id: &str, dataset_ids: &[String]) -> Result<()> {
        let request = Request::new(
            DATASETS,
            DeleteDatasets { kind: Some("soft".into()), dataset_ids: dataset_ids.to_vec() },
        );
        let path = format!("{V2}/{}/datasets/delete", path_segment(project_id));
        self.call_empty(Method::POST, &path, json_body(&request)?).await
    }

    /// Deletes experiments (`POST /experiments/delete`); all or nothing.
    pub async fn delete_experiments(&self, experiment_ids: &[String]) -> Result<()> {
        let request = Request::new(
            EXPERIMENTS,
            DeleteExperiments { experiment_ids: experiment_ids.to_vec() },
        );
        self.call_empty(Method::POST, &format!("{V2}/experiments/delete"), json_body(&request)?)
            .await
    }

    /// One page of a span search (`POST /spans/events/search`).
    pub async fn search_spans(&self, request: &SearchSpansRequest) -> Result<SpansResponse> {
        let path = format!("{V2}/spans/events/search");
        self.call(Method::POST, &path, Some(json_body(request)?), LIST_TIMEOUT, &[200]).await
    }

    /// Writes a dataset's records (version `version`, else the current one) to `out` as
    /// CSV (`id,input,expected_output,metadata,tags`, JSON cells) or JSON lines, chunk by
    /// chunk as they arrive; `progress` is told the bytes written so far. Returns the
    /// number of bytes written.
    pub async fn export_dataset(
        &self,
        project_id: &str,
        dataset_id: &str,
        format: ExportFormat,
        version: Option<u64>,
        out: &mut (dyn std::io::Write + Send),
        progress: Option<Progress>,
    ) -> Result<u64> {
        let format = match format {
            ExportFormat::Csv => "csv",
            ExportFormat::Jsonl => "jsonl",
        };
        let mut path = format!(
            "{V2}/{}/datasets/{}/export?format={format}",
            path_segment(project_id),
            path_segment(dataset_id)
        );
        if let Some(version) = version {
            path.push_str(&format!("&version={version}"));
        }
        let mut response = self.stream_request(Method::GET, &path, None).await?;
        let status = response.status().as_u16();
        if status != 200 {
            let text = response.text().await.map_err(Error::transport)?;
            return Err(Error::from_status(status, crate::api::error_detail(&text)));
        }
        let mut written = 0u64;
        while let Some(chunk) = response.chunk().await.map_err(Error::transport)? {
            out.write_all(&chunk)
                .map_err(|source| Error::Io { path: PathBuf::from("<output>"), source })?;
            written += chunk.len() as u64;
            if let Some(progress) = &progress {
                progress(written);
            }
        }
        out.flush().map_err(|source| Error::Io { path: PathBuf::from("<output>"), source })?;
        Ok(written)
    }

    /// Adds the rows of a CSV file to a dataset as one new version (the public file upload,
    /// `POST /api/v2/llm-obs/v2/{project_id}/datasets/{id}/records/upload`), streaming the
    /// file. The server checks every row before storing any: a broken row is a
    /// [`Error::Validation`] naming it, and nothing is stored.
    pub async fn upload_dataset_file(
        &self,
        project_id: &str,
        dataset_id: &str,
        upload: &FileUpload,
    ) -> Result<Resource<UploadResult>> {
        let path = &upload.path;
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|source| Error::Io { path: path.clone(), source })?;
        let mut query =
            format!("deduplicate={}&overwrite={}", upload.deduplicate, upload.overwrite);
        for tag in &upload.tags {
            query.push_str(&format!("&tags={}", query_value(tag)));
        }
        let url_path = format!(
            "{V2_UPLOAD}/{}/datasets/{}/records/upload?{query}",
            path_segment(project_id),
            path_segment(dataset_id)
        );
        let head = format!(
            "--{FILE_BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"upload.csv\"\r\nContent-Type: text/csv\r\n\r\n"
        );
        let tail = format!("\r\n--{FILE_BOUNDARY}--\r\n");
        use tokio::io::AsyncReadExt as _;
        let counted = Counting { inner: file, sent: 0, progress: upload.progress.clone() };
        let body = std::io::Cursor::new(head.into_bytes())
            .chain(counted)
            .chain(std::io::Cursor::new(tail.into_bytes()));
        let stream = tokio_util::io::ReaderStream::with_capacity(body, 256 * 1024);
        let kind = format!("multipart/form-data; boundary={FILE_BOUNDARY}");
        let answer = self
            .send(
                Method::POST,
                &url_path,
                Some(Body::Other(reqwest::Body::wrap_stream(stream), kind)),
                UPLOAD_TIMEOUT.max(std::time::Duration::from_secs(600)),
                false,
            )
            .await?;
        crate::api::check(&answer, &[200])?;
        let document: Document<Resource<UploadResult>> = serde_json::from_slice(&answer.body)
            .map_err(|err| Error::Server {
                status: answer.status,
                detail: format!("unexpected response body: {err}"),
            })?;
        Ok(document.data)
    }

    /// A call answered with no body worth reading (200 or 204).
    async fn call_empty(&self, method: Method, path: &str, body: Body) -> Result<()> {
        let answer = self.send(method, path, Some(body), JSON_TIMEOUT, false).await?;
        crate::api::check(&answer, &[200, 204])
    }

    /// A request whose answer is read as a stream; not retried.
    async fn stream_request(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<reqwest::Response> {
        let config = &self.inner.config;
        let route = config.route(path, false);
        let mut request = self.inner.http.request(method, &route.url).timeout(UPLOAD_TIMEOUT * 10);
        if route.keys {
            let Some(api_key) = config.api_key.as_deref() else {
                return Err(Error::Auth { status: 0, detail: "DD_API_KEY is required".into() });
            };
            request = request
                .header("DD-API-KEY", api_key)
                .header("DD-APPLICATION-KEY", config.app_key.as_deref().unwrap_or(""));
        }
        if let Some(subdomain) = route.subdomain {
            request = request.header("X-Datadog-EVP-Subdomain", subdomain);
        }
        if route.needs_app_key {
            request = request.header("X-Datadog-NeedsAppKey", "true");
        }
        if let Some(body) = body {
            request = request.header("Content-Type", "application/json").body(body);
        }
        let response = request.send().await.map_err(Error::transport)?;
        Ok(response)
    }
}

/// A reader that tells `progress` how many bytes went through it.
struct Counting<R> {
    inner: R,
    sent: u64,
    progress: Option<Progress>,
}

impl<R: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Counting<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = (buf.filled().len() - before) as u64;
        if read > 0 {
            self.sent += read;
            if let Some(progress) = &self.progress {
                progress(self.sent);
            }
        }
        polled
    }
}
