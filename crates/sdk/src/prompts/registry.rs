//! The registry's management calls (E5–E11): create, update, delete and list prompts
//! and versions, and move labels. A successful write evicts every cached copy of the
//! prompt in this process.

use llmobs_core::encoding::path_segment;
use llmobs_core::prompts::{
    CreatePromptRequest, CreateVersionRequest, Deleted, PromptRecord as WirePrompt,
    UpdatePromptRequest, UpdateVersionRequest, Version as WireVersion,
};

use super::records::{PromptInfo, PromptVersion};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::client::Inner;
use crate::error::extract_detail;
use crate::{Client, Error, Result};

impl Client {
    /// Creates a prompt and its version 1 (`POST /prompts`).
    ///
    /// ```no_run
    /// # async fn run(client: llmobs::Client) -> llmobs::Result<()> {
    /// use llmobs::{ChatItem, NewPrompt, Template};
    ///
    /// let template = Template::Chat(vec![ChatItem::message("user", "Hi {{name}}")]);
    /// let created = client.create_prompt(NewPrompt::new("greeting", template).title("Greeting")).await?;
    /// assert_eq!(created.num_versions, 1);
    /// # Ok(()) }
    /// ```
    pub async fn create_prompt(
        &self,
        request: impl Into<CreatePromptRequest>,
    ) -> Result<PromptInfo> {
        let request = request.into();
        let created: WirePrompt =
            self.write(Method::POST, &request.prompt_id, String::new(), &request).await?;
        Ok(created.into())
    }

    /// Adds a version to a prompt (`POST /prompts/{id}/versions`).
    pub async fn create_prompt_version(
        &self,
        prompt_id: &str,
        request: impl Into<CreateVersionRequest>,
    ) -> Result<PromptVersion> {
        let tail = format!("/{}/versions", segment(prompt_id)?);
        let created: WireVersion =
            self.write(Method::POST, prompt_id, tail, &request.into()).await?;
        Ok(created.into())
    }

    /// Changes a prompt's title and/or description (`PATCH /prompts/{id}`). An empty
    /// string clears the field.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] without a request when neither field is set.
    pub async fn update_prompt(
        &self,
        prompt_id: &str,
        request: impl Into<UpdatePromptRequest>,
    ) -> Result<PromptInfo> {
        let request = request.into();
        let empty = request.title.is_none() && request.description.is_none();
        let updated: WirePrompt =
            self.patch(prompt_id, "", &request, empty.then_some("title or description")).await?;
        Ok(updated.into())
    }

    /// Changes a version's labels, description and/or environments
    /// (`PATCH /prompts/{id}/versions/{version}`). Labels and environments are
    /// replaced; an empty list clears them. To move one label and leave the others, use
    /// [`set_label`](Self::set_label).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] without a request when no field is set.
    pub async fn update_prompt_version(
        &self,
        prompt_id: &str,
        version: u64,
        request: impl Into<UpdateVersionRequest>,
    ) -> Result<PromptVersion> {
        let request = request.into();
        let empty =
            request.labels.is_none() && request.description.is_none() && request.env_ids.is_none();
        let fields = empty.then_some("labels, description, or env_ids");
        let path = format!("/versions/{version}");
        let updated: WireVersion = self.patch(prompt_id, &path, &request, fields).await?;
        Ok(updated.into())
    }

    /// Puts `label` on version `version` of a prompt, taking it from the version that
    /// had it; the version's other labels, and every other label, stay where they are.
    ///
    /// ```no_run
    /// # async fn run(client: llmobs::Client) -> llmobs::Result<()> {
    /// let moved = client.set_label("greeting", 3, "production").await?;
    /// assert!(moved.labels.iter().any(|l| l == "production"));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) when the prompt or the version
    /// does not exist.
    pub async fn set_label(
        &self,
        prompt_id: &str,
        version: u64,
        label: &str,
    ) -> Result<PromptVersion> {
        self.relabel(prompt_id, version, |labels| {
            (!labels.iter().any(|l| l == label)).then(|| [labels, &[label.to_owned()]].concat())
        })
        .await
    }

    /// Takes `label` off version `version` of a prompt, leaving its other labels.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) when the prompt or the version
    /// does not exist.
    pub async fn remove_label(
        &self,
        prompt_id: &str,
        version: u64,
        label: &str,
    ) -> Result<PromptVersion> {
        self.relabel(prompt_id, version, |labels| {
            labels
                .iter()
                .any(|l| l == label)
                .then(|| labels.iter().filter(|l| *l != label).cloned().collect())
        })
        .await
    }

    /// Gives version `version` the labels `change` makes of its current ones; when
    /// `change` says `None`, the version stays as it is and is returned.
    async fn relabel(
        &self,
        prompt_id: &str,
        version: u64,
        change: impl FnOnce(&[String]) -> Option<Vec<String>>,
    ) -> Result<PromptVersion> {
        let current = self.prompt_version(prompt_id, version).await?;
        let Some(labels) = change(&current.labels) else {
            return Ok(current);
        };
        let request = UpdateVersionRequest { labels: Some(labels), ..Default::default() };
        self.update_prompt_version(prompt_id, version, request).await
    }

    /// Sends `request` as a `PATCH` to the prompt's path followed by `path` (see
    /// [`write`](Self::write)). `missing`: the fields of which the request sets none, when it
    /// sets none; such a request is refused unsent.
    async fn patch<T: DeserializeOwned>(
        &self,
        prompt_id: &str,
        path: &str,
        request: &impl serde::Serialize,
        missing: Option<&str>,
    ) -> Result<T> {
        if let Some(fields) = missing {
            return Err(Error::InvalidRequest {
                detail: format!("At least one of {fields} must be provided"),
            });
        }
        let tail = format!("/{}{path}", segment(prompt_id)?);
        self.write(Method::PATCH, prompt_id, tail, request).await
    }

    /// Sends `request` with `method` to `tail` and forgets the cached prompt.
    async fn write<T: DeserializeOwned>(
        &self,
        method: Method,
        prompt_id: &str,
        tail: String,
        request: &impl serde::Serialize,
    ) -> Result<T> {
        let body = to_body(request)?;
        let written = self.inner.crud(method, tail, Some(body), true).await?;
        self.inner.evict_prompt(prompt_id).await;
        Ok(written)
    }

    /// One version of a prompt, from its list of versions.
    async fn prompt_version(&self, prompt_id: &str, version: u64) -> Result<PromptVersion> {
        self.list_prompt_versions(prompt_id)
            .await?
            .into_iter()
            .find(|v| v.version == version)
            .ok_or_else(|| Error::NotFound {
                status: 0,
                detail: format!("prompt '{prompt_id}' has no version {version}"),
            })
    }

    /// Deletes a prompt and all its versions (`DELETE /prompts/{id}`).
    pub async fn delete_prompt(&self, prompt_id: &str) -> Result<Deleted> {
        let tail = format!("/{}", segment(prompt_id)?);
        let deleted = self.inner.crud(Method::DELETE, tail, None, true).await?;
        self.inner.evict_prompt(prompt_id).await;
        Ok(deleted)
    }

    /// Every prompt in the registry (`GET /prompts`). Needs only the API key.
    pub async fn list_prompts(&self) -> Result<Vec<PromptInfo>> {
        let prompts: Vec<WirePrompt> =
            self.inner.crud(Method::GET, String::new(), None, false).await?;
        Ok(prompts.into_iter().map(Into::into).collect())
    }

    /// One version of a prompt with its template (`GET /prompts/{id}/versions/{n}`).
    /// Needs only the API key.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) when the prompt or the version
    /// does not exist.
    pub async fn get_prompt_version(&self, prompt_id: &str, version: u64) -> Result<PromptVersion> {
        let tail = format!("/{}/versions/{version}", segment(prompt_id)?);
        let found: WireVersion = self.inner.crud(Method::GET, tail, None, false).await?;
        Ok(found.into())
    }

    /// A prompt's versions, newest first (`GET /prompts/{id}/versions`); empty for an
    /// unknown prompt. Needs only the API key.
    pub async fn list_prompt_versions(&self, prompt_id: &str) -> Result<Vec<PromptVersion>> {
        let tail = format!("/{}/versions", segment(prompt_id)?);
        let versions: Vec<WireVersion> = self.inner.crud(Method::GET, tail, None, false).await?;
        Ok(versions.into_iter().map(Into::into).collect())
    }
}

fn to_body<T: serde::Serialize>(request: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(request).map_err(|err| Error::InvalidRequest { detail: err.to_string() })
}

/// A prompt id as a path segment. `.` and `..` cannot be sent: URL parsers remove such
/// segments, which would address another resource.
fn segment(prompt_id: &str) -> Result<String> {
    if prompt_id == "." || prompt_id == ".." {
        return Err(Error::InvalidRequest {
            detail: format!("prompt_id {prompt_id:?} cannot be used in a URL path"),
        });
    }
    Ok(path_segment(prompt_id))
}

impl Inner {
    /// One registry management call (E5–E11).
    async fn crud<T: DeserializeOwned>(
        &self,
        method: Method,
        tail: String,
        body: Option<Vec<u8>>,
        write: bool,
    ) -> Result<T> {
        let api_key = self.require_api_key()?;
        let app_key =
            if write { Some(self.require_app_key()?) } else { self.config.app_key.as_deref() };
        let mut request = self
            .request(method, &self.url(&tail), api_key)
            .header("Content-Type", "application/json");
        if let Some(app_key) = app_key {
            request = request.header("DD-APPLICATION-KEY", app_key);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.map_err(Error::transport)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(Error::transport)?;
        let text = std::str::from_utf8(&bytes).map_err(|err| Error::Transport {
            detail: format!("the response body is not UTF-8: {err}"),
            timeout: false,
            source: Some(Box::new(err)),
        })?;
        if !(200..300).contains(&status) {
            return Err(Error::from_status(status, extract_detail(text)));
        }
        let text = if text.trim().is_empty() { "{}" } else { text };
        let mut value: Value = serde_json::from_str(text).map_err(|_| Error::Server {
            status,
            detail: "invalid JSON in response body".into(),
        })?;
        normalize_ids(&mut value);
        serde_json::from_value(value).map_err(|err| Error::Server {
            status,
            detail: format!("unexpected response body: {err}"),
        })
    }
}

/// An object holding both `id` and `ID` keeps `id` (what the reference client shows).
fn normalize_ids(value: &mut Value) {
    let fix = |item: &mut Value| {
        if let Value::Object(map) = item
            && map.contains_key("id")
        {
            map.remove("ID");
        }
    };
    match value {
        Value::Array(items) => items.iter_mut().for_each(fix),
        other => fix(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_are_normalized_for_typed_parsing() {
        let mut value = json!([{"ID": "u"}, {"id": "l", "ID": "u2"}]);
        normalize_ids(&mut value);
        assert_eq!(value, json!([{"ID": "u"}, {"id": "l"}]));
    }
}
