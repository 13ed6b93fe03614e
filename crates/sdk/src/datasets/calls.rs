//! The datasets API calls (E1–E7): projects, create, push (batches or a bulk upload),
//! pull and delete.

use std::borrow::Borrow;
use std::collections::HashMap;

use llmobs_core::datasets::{
    BatchUpdate, DATASETS, DatasetAttributes, DatasetRequest, DeleteDatasets, PROJECTS,
    ProjectRequest,
};
use llmobs_core::encoding::query_value;
use llmobs_core::jsonapi::{Document, Request, Resource};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::dataset::{check_tags, compact_record};
use super::options::{CreateDataset, PullDataset, Push};
use super::upload::{
    BOUNDARY, MAX_BATCH_BYTES, MAX_BATCH_RECORDS, batches, multipart_head, multipart_tail, py_len,
    upload_row, upload_writer,
};
use super::{Dataset, DatasetRecord};
use crate::api::{Body, JSON_TIMEOUT, LIST_TIMEOUT, UNSTABLE, UPLOAD_TIMEOUT, V2, json_body};
use crate::{Client, Error, Result};

/// What a batch update answers for each touched record.
#[derive(Debug, Deserialize)]
struct Touched {
    #[serde(default)]
    canonical_id: Option<String>,
    #[serde(default)]
    version: Option<u64>,
}

/// What a record listing holds (spec E4 mapping).
#[derive(Debug, Deserialize)]
struct Listed {
    input: Value,
    #[serde(default)]
    expected_output: Option<Value>,
    #[serde(default)]
    metadata: Option<Value>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    canonical_id: Option<String>,
}

impl Client {
    /// The id of project `name` (E1, create-or-get), cached per client.
    pub(crate) async fn project_id(&self, name: &str, use_cache: bool) -> Result<String> {
        if use_cache && let Some(id) = self.inner.projects.lock().expect("project cache").get(name)
        {
            return Ok(id.clone());
        }
        let request = Request::new(
            PROJECTS,
            ProjectRequest { name: name.to_owned(), description: Some(String::new()) },
        );
        let answer: Document<Resource<Value>> = self
            .call(
                Method::POST,
                &format!("{UNSTABLE}/projects"),
                Some(json_body(&request)?),
                JSON_TIMEOUT,
                &[200],
            )
            .await?;
        let id = answer.data.id;
        self.inner.projects.lock().expect("project cache").insert(name.to_owned(), id.clone());
        Ok(id)
    }

    pub(super) fn project_name_or_default(&self, name: Option<&str>) -> String {
        name.filter(|n| !n.is_empty()).unwrap_or(&self.inner.config.project_name).to_owned()
    }

    pub(super) async fn new_dataset(
        &self,
        name: &str,
        description: &str,
        project: Option<&str>,
    ) -> Result<Dataset> {
        let project_name = self.project_name_or_default(project);
        let project_id = self.project_id(&project_name, true).await?;
        let request = Request::new(
            DATASETS,
            DatasetRequest {
                name: name.to_owned(),
                description: Some(description.to_owned()),
                metadata: None,
            },
        );
        let answer: Document<Resource<DatasetAttributes>> = self
            .call(
                Method::POST,
                &format!("{UNSTABLE}/{project_id}/datasets"),
                Some(json_body(&request)?),
                JSON_TIMEOUT,
                &[200],
            )
            .await?;
        if answer.data.id.is_empty() {
            return Err(Error::Server { status: 200, detail: "the dataset has no id".into() });
        }
        Ok(Dataset::empty(
            self,
            (&project_name, &project_id),
            answer.data.id,
            answer.data.attributes,
        ))
    }

    /// Creates dataset `name` in the default project with `records` (E1, E2, then batch
    /// updates of at most 1000 records and 5 MiB, one version in all; spec §3.6).
    pub async fn create_dataset<Q, A>(
        &self,
        name: &str,
        records: impl IntoIterator<Item = DatasetRecord<Q, A>>,
    ) -> Result<Dataset>
    where
        Q: Serialize + 'static,
        A: Serialize + 'static,
    {
        self.create_dataset_with(&CreateDataset::new(name), records).await
    }

    /// [`create_dataset`](Self::create_dataset) with options. Tags are checked before
    /// anything is sent.
    pub async fn create_dataset_with<Q, A>(
        &self,
        options: impl Borrow<CreateDataset>,
        records: impl IntoIterator<Item = DatasetRecord<Q, A>>,
    ) -> Result<Dataset>
    where
        Q: Serialize + 'static,
        A: Serialize + 'static,
    {
        let options = options.borrow();
        // Compacted as they arrive, so the caller's loosely built values are freed one
        // record at a time rather than all held at once.
        let records: Vec<DatasetRecord> = records
            .into_iter()
            .map(|record| {
                let mut record = record.into_json()?;
                check_tags(&record.tags)?;
                compact_record(&mut record);
                Ok(record)
            })
            .collect::<Result<_>>()?;
        let mut dataset = self
            .new_dataset(&options.name, &options.description, options.project_name.as_deref())
            .await?;
        if records.is_empty() {
            return Ok(dataset);
        }
        if options.bulk_upload {
            dataset.extend(records)?;
            self.push_dataset_with(
                &mut dataset,
                &Push { bulk_upload: Some(true), ..Push::default() },
            )
            .await?;
            return Ok(dataset);
        }
        let mut scratch = String::new();
        let total: usize = records
            .iter()
            .map(|r| {
                py_len(&serde_json::to_value(r.to_insert()).unwrap_or_default(), &mut scratch) + 2
            })
            .sum();
        let num_batches = total.div_ceil(MAX_BATCH_BYTES).max(1);
        let batch_size = records.len().div_ceil(num_batches).min(MAX_BATCH_RECORDS);
        let mut bumped = false;
        // The records move into the dataset once; each batch is marked pending in turn.
        let all = dataset.adopt(records)?;
        for start in all.clone().step_by(batch_size) {
            let end = (start + batch_size).min(all.end);
            for record in &dataset.records[start..end] {
                dataset.pending_inserts.insert(record.id.clone());
            }
            let before = dataset.latest_version;
            let push =
                Push { bulk_upload: Some(false), create_new_version: !bumped, ..Push::default() };
            self.push_dataset_with(&mut dataset, &push).await?;
            bumped |= dataset.latest_version != before;
        }
        Ok(dataset)
    }

    /// Sends the local changes of `dataset` (spec §3.5 with default options).
    pub async fn push_dataset(&self, dataset: &mut Dataset) -> Result<()> {
        self.push_dataset_with(dataset, &Push::default()).await
    }

    /// Sends the local changes of `dataset`: batch updates (E5) of at most 1000 records
    /// and 5 MiB each (only the first may create a version), or one bulk upload (E6)
    /// of every local record when the diff is over 5 MiB or `bulk_upload` says so.
    pub async fn push_dataset_with(
        &self,
        dataset: &mut Dataset,
        options: impl Borrow<Push>,
    ) -> Result<()> {
        let options = options.borrow();
        let (inserts, updates, deletes) = dataset.diff();
        let bulk = match options.bulk_upload {
            Some(bulk) => bulk,
            None => {
                let mut scratch = String::new();
                let size: usize = inserts
                    .iter()
                    .map(|i| serde_json::to_value(i).unwrap_or_default())
                    .chain(updates.iter().map(|u| serde_json::to_value(u).unwrap_or_default()))
                    .map(|v| py_len(&v, &mut scratch) + 40)
                    .sum();
                size > MAX_BATCH_BYTES
            }
        };
        if bulk {
            let mut body = multipart_head().into_bytes();
            {
                let mut csv = upload_writer(&mut body);
                csv.write_record(["input", "expected_output", "metadata", "id"])
                    .map_err(|err| Error::Csv { detail: err.to_string() })?;
                let mut scratch: [String; 3] = Default::default();
                for record in &dataset.records {
                    upload_row(&mut csv, record, &mut scratch)
                        .map_err(|err| Error::Csv { detail: err.to_string() })?;
                }
                csv.flush().map_err(|err| Error::Csv { detail: err.to_string() })?;
            }
            body.extend_from_slice(multipart_tail().as_bytes());
            self.upload(&dataset.id, options.deduplicate, reqwest::Body::from(body)).await?;
            // As the reference client: the bulk path sends no deletes, updates or tags
            // and clears them; pending inserts stay pending (spec §3.5).
            dataset.pending_updates.clear();
            dataset.pending_deletes.clear();
            dataset.tag_ops.clear();
            return Ok(());
        }
        let path = format!("{V2}/{}/datasets/{}/batch_update", dataset.project_id, dataset.id);
        // Only inserts come back with a canonical id to record.
        let positions: HashMap<String, usize> = dataset
            .records
            .iter()
            .enumerate()
            .filter(|(_, r)| dataset.pending_inserts.contains(&r.id))
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        let mut bumped = false;
        for (insert_records, update_records, delete_records) in batches(inserts, updates, deletes) {
            let mut request = Request::new(
                DATASETS,
                BatchUpdate {
                    insert_records,
                    update_records,
                    delete_records,
                    deduplicate: options.deduplicate,
                    create_new_version: options.create_new_version && !bumped,
                },
            );
            request.data.id = Some(dataset.id.clone());
            let answer: Document<Vec<Resource<Touched>>> = self
                .call(Method::POST, &path, Some(json_body(&request)?), JSON_TIMEOUT, &[200])
                .await?;
            if let Some(version) = answer.data.first().and_then(|r| r.attributes.version) {
                dataset.latest_version = version;
                dataset.version = version;
                bumped = true;
            }
            for touched in answer.data {
                dataset.pending_inserts.remove(&touched.id);
                if let (Some(canonical), Some(&i)) =
                    (touched.attributes.canonical_id, positions.get(&touched.id))
                {
                    dataset.records[i].canonical_id = Some(canonical);
                }
            }
        }
        dataset.pending_updates.clear();
        dataset.pending_deletes.clear();
        dataset.tag_ops.clear();
        Ok(())
    }

    pub(super) async fn upload(
        &self,
        dataset_id: &str,
        deduplicate: bool,
        body: reqwest::Body,
    ) -> Result<()> {
        let flag = if deduplicate { "True" } else { "False" };
        let path = format!("{UNSTABLE}/datasets/{dataset_id}/records/upload?deduplicate={flag}");
        let kind = format!("multipart/form-data; boundary={BOUNDARY}");
        let answer = self
            .send(Method::POST, &path, Some(Body::Other(body, kind)), UPLOAD_TIMEOUT, false)
            .await?;
        crate::api::check(&answer, &[200])
    }

    /// Reads dataset `name` of the default project, latest version, all records.
    pub async fn pull_dataset(&self, name: &str) -> Result<Dataset> {
        self.pull_dataset_with(name, &PullDataset::default()).await
    }

    /// Reads a dataset (E1, E3, then E4 pages until `meta.after` is empty).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] (status 0) when no dataset has that name;
    /// [`Error::InvalidRequest`] for a malformed filter tag; the server's 400 for a
    /// version past the latest.
    pub async fn pull_dataset_with(
        &self,
        name: &str,
        options: impl Borrow<PullDataset>,
    ) -> Result<Dataset> {
        let options = options.borrow();
        check_tags(&options.tags)?;
        let project_name = self.project_name_or_default(options.project_name.as_deref());
        let project_id = self.project_id(&project_name, false).await?;
        let found: Document<Vec<Resource<DatasetAttributes>>> = self
            .call(
                Method::GET,
                &format!("{V2}/{project_id}/datasets?filter[name]={}", query_value(name)),
                None,
                JSON_TIMEOUT,
                &[200],
            )
            .await?;
        let Some(first) = found.data.into_iter().next() else {
            return Err(Error::NotFound {
                status: 0,
                detail: format!("Dataset '{name}' not found in project {project_name}"),
            });
        };
        let mut dataset =
            Dataset::empty(self, (&project_name, &project_id), first.id, first.attributes);
        let requested = options.version.filter(|v| *v != 0);
        for record in
            self.dataset_records(&project_id, &dataset.id, requested, &options.tags).await?
        {
            dataset.records.push(record);
            dataset.ids.insert(&dataset.records, dataset.records.len() - 1);
        }
        dataset.records.shrink_to_fit();
        if let Some(version) = requested {
            dataset.version = version;
        }
        dataset.filter_tags = options.tags.clone();
        Ok(dataset)
    }

    /// Every record of a dataset (E4's listing, all pages), at `version` (the current
    /// one when `None`), only those with every tag of `tags`.
    pub(crate) async fn dataset_records(
        &self,
        project_id: &str,
        dataset_id: &str,
        version: Option<u64>,
        tags: &[String],
    ) -> Result<Vec<DatasetRecord>> {
        let mut records = Vec::new();
        let mut filters = String::new();
        if let Some(version) = version {
            filters.push_str(&format!("filter[version]={version}"));
        }
        for tag in tags {
            filters.push_str("&filter[tags]=");
            filters.push_str(tag);
        }
        let base = format!("{V2}/{project_id}/datasets/{dataset_id}/records?");
        let mut cursor = String::new();
        loop {
            let path = if cursor.is_empty() {
                format!("{base}{filters}")
            } else if filters.is_empty() {
                format!("{base}page[cursor]={}", query_value(&cursor))
            } else {
                let filters = filters.strip_prefix('&').unwrap_or(&filters);
                format!("{base}page[cursor]={}&{filters}", query_value(&cursor))
            };
            let page: Document<Vec<Resource<Listed>>> =
                self.call(Method::GET, &path, None, LIST_TIMEOUT, &[200]).await?;
            for item in page.data {
                let listed = item.attributes;
                let mut record = DatasetRecord {
                    id: item.id,
                    input: listed.input,
                    expected_output: listed.expected_output,
                    metadata: Some(
                        listed.metadata.filter(|m| !m.is_null()).unwrap_or_else(|| json!({})),
                    ),
                    tags: listed.tags,
                    canonical_id: listed.canonical_id,
                };
                compact_record(&mut record);
                records.push(record);
            }
            cursor = page.meta.map(|m| m.after).unwrap_or_default();
            if cursor.is_empty() {
                return Ok(records);
            }
        }
    }

    /// Soft-deletes a dataset (E7).
    pub async fn delete_dataset(&self, dataset_id: &str) -> Result<()> {
        let request = Request::new(
            DATASETS,
            DeleteDatasets { kind: Some("soft".into()), dataset_ids: vec![dataset_id.to_owned()] },
        );
        let _: Value = self
            .call(
                Method::POST,
                &format!("{UNSTABLE}/datasets/delete"),
                Some(json_body(&request)?),
                JSON_TIMEOUT,
                &[200],
            )
            .await?;
        Ok(())
    }
}
