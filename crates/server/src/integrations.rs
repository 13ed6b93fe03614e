//! LLM provider accounts configured on the server, and the calls made through them: model
//! lists, chat completions (inference, LLM judges, topic naming) and embeddings (topic
//! discovery).
//!
//! Accounts come from `llmobs serve --integrations FILE` ([`AccountSpec::parse_file`]) and
//! `--judge-url` (an `openai` account with id `judge`). Their keys stay in memory as the
//! operator gave them: no route returns them, `Debug` hides them, and error messages name
//! the account and URL only. The wire translation lives in [`llmobs_core::integrations`].

use std::time::Duration;

use llmobs_core::integrations::{self, Completion, InferenceRequest, Model, Wire};
use serde_json::Value;

use crate::state::ConfigError;

/// The id of the account `--judge-url` configures, and the one LLM judges use by default.
pub const JUDGE_ACCOUNT: &str = "judge";

/// One provider account, as the integrations file gives it:
/// `{"integration", "id", "name"?, "base_url", "api_key"? | "api_key_env"?, "region"?,
/// "models"?, "embedding_model"?}`.
#[derive(Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSpec {
    /// `openai`, `azure_openai`, `llmproxy` (OpenAI-compatible APIs) or `anthropic`.
    pub integration: String,
    /// The id routes take as `{account_id}`, unique in the file.
    pub id: String,
    /// A display name (the id when absent).
    #[serde(default)]
    pub name: Option<String>,
    /// The API's base URL, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:8000/v1`.
    pub base_url: String,
    /// The key, as given. Sent as `Authorization: Bearer` (OpenAI), `api-key` (Azure) or
    /// `x-api-key` (Anthropic).
    #[serde(default)]
    pub api_key: Option<String>,
    /// The environment variable holding the key, read when the file is.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// A region shown with the account.
    #[serde(default)]
    pub region: Option<String>,
    /// A fixed model list, for providers without `GET /models`.
    #[serde(default)]
    pub models: Option<Vec<String>>,
    /// The model of the account's `/embeddings` endpoint; topic discovery embeds with it
    /// when set, and with its built-in local method otherwise.
    #[serde(default)]
    pub embedding_model: Option<String>,
}

impl std::fmt::Debug for AccountSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountSpec")
            .field("integration", &self.integration)
            .field("id", &self.id)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<hidden>"))
            .field("embedding_model", &self.embedding_model)
            .finish_non_exhaustive()
    }
}

impl AccountSpec {
    /// Reads `{"accounts": [...]}`, checks every account (known integration, http(s) URL,
    /// unique id) and resolves `api_key_env` through `env`.
    pub fn parse_file(
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Vec<AccountSpec>, ConfigError> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            accounts: Vec<AccountSpec>,
        }
        let bad = |message: String| ConfigError::Integrations(message);
        let file: File = serde_json::from_str(text).map_err(|e| {
            bad(format!(
                "{e}; expected {{\"accounts\": [{{\"integration\": \"openai\", \"id\": \"local\", \
                 \"base_url\": \"http://127.0.0.1:8000/v1\", \"api_key_env\": \"OPENAI_API_KEY\"}}]}}"
            ))
        })?;
        let mut accounts = file.accounts;
        for account in accounts.iter_mut() {
            account.check().map_err(|e| bad(format!("account '{}': {e}", account.id)))?;
            if let Some(variable) = &account.api_key_env {
                if account.api_key.is_some() {
                    return Err(bad(format!(
                        "account '{}': give api_key or api_key_env, not both",
                        account.id
                    )));
                }
                let key = env(variable).filter(|k| !k.is_empty()).ok_or_else(|| {
                    bad(format!(
                        "account '{}': the environment variable {variable} (api_key_env) is not set",
                        account.id
                    ))
                })?;
                account.api_key = Some(key);
            }
        }
        // Ids are unique per file.
        let mut ids: Vec<&str> = accounts.iter().map(|a| a.id.as_str()).collect();
        ids.sort_unstable();
        if let Some(pair) = ids.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(bad(format!("account id '{}' appears twice", pair[0])));
        }
        Ok(accounts)
    }

    /// What every account needs.
    fn check(&self) -> Result<(), String> {
        integrations::wire_of(&self.integration).map_err(|e| e.to_string())?;
        if self.id.trim().is_empty() || self.id.contains('/') {
            return Err("id must be a non-empty name without '/'".into());
        }
        if !(self.base_url.starts_with("http://") || self.base_url.starts_with("https://")) {
            return Err(format!(
                "base_url must start with http:// or https://, got '{}'",
                self.base_url
            ));
        }
        Ok(())
    }

    /// The API it speaks (checked when the file was read).
    pub fn wire(&self) -> Wire {
        integrations::wire_of(&self.integration).unwrap_or(Wire::OpenAi)
    }

    /// The account as the public API shows it.
    pub fn public(&self) -> integrations::Account {
        integrations::Account {
            account_id: self.id.clone(),
            account_name: self.name.clone().unwrap_or_else(|| self.id.clone()),
            account_region: self.region.clone(),
            id: self.id.clone(),
            integration: self.integration.clone(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base_url.trim_end_matches('/'))
    }
}

/// A call through an account that failed. Its text names the account, never its key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// The server's HTTP client could not be built.
    #[error("{0}")]
    Client(String),
    /// The provider could not be reached, or did not answer in time.
    #[error("calling {account} failed: {message}")]
    Unreachable {
        /// The account's id.
        account: String,
        /// What went wrong.
        message: String,
    },
    /// The provider answered with an error status.
    #[error("{account} answered {status}: {body}")]
    Status {
        /// The account's id.
        account: String,
        /// The HTTP status.
        status: u16,
        /// The answer, shortened.
        body: String,
    },
    /// The provider's answer is not the expected shape.
    #[error("{account}'s answer is unexpected: {message}")]
    Answer {
        /// The account's id.
        account: String,
        /// What is missing.
        message: String,
    },
    /// The account cannot do this (e.g. embeddings without `embedding_model`).
    #[error("{0}")]
    Unsupported(String),
}

impl ProviderError {
    /// A short kind for `error_response.type`.
    pub fn kind(&self) -> &'static str {
        match self {
            ProviderError::Client(_) | ProviderError::Unreachable { .. } => "connection_error",
            ProviderError::Status { .. } => "provider_error",
            ProviderError::Answer { .. } => "invalid_response",
            ProviderError::Unsupported(_) => "unsupported",
        }
    }
}

/// Every configured account and the one HTTP client they share.
#[derive(Debug)]
pub struct Integrations {
    accounts: Vec<AccountSpec>,
    http: Result<reqwest::Client, String>,
}

impl Integrations {
    /// The accounts, with a client built for them. Installs the `ring` TLS provider first
    /// (several crates may do so; the first one wins).
    pub fn new(accounts: Vec<AccountSpec>) -> Self {
        let http = if accounts.is_empty() {
            Err("no provider account is configured".to_owned())
        } else {
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .map_err(|e| format!("cannot build the providers' HTTP client: {e}"))
        };
        Integrations { accounts, http }
    }

    /// The accounts of `integration`, in file order.
    pub fn accounts(&self, integration: &str) -> Vec<&AccountSpec> {
        self.accounts.iter().filter(|a| a.integration == integration).collect()
    }

    /// The account `id`, of any integration.
    pub fn get(&self, id: &str) -> Option<&AccountSpec> {
        self.accounts.iter().find(|a| a.id == id)
    }

    /// The account LLM judges use when their config names none: `judge`, else the only
    /// account.
    pub fn default_judge(&self) -> Option<&AccountSpec> {
        self.get(JUDGE_ACCOUNT).or(match self.accounts.as_slice() {
            [only] => Some(only),
            _ => None,
        })
    }

    fn http(&self) -> Result<&reqwest::Client, ProviderError> {
        self.http.as_ref().map_err(|e| ProviderError::Client(e.clone()))
    }

    /// A request to `path` of the account, with its key.
    fn request(
        &self,
        account: &AccountSpec,
        method: reqwest::Method,
        path: &str,
    ) -> Result<reqwest::RequestBuilder, ProviderError> {
        let mut request = self.http()?.request(method, account.url(path));
        if let Some(key) = &account.api_key {
            request = match (account.wire(), account.integration.as_str()) {
                (Wire::Anthropic, _) => request.header("x-api-key", key),
                (_, "azure_openai") => request.header("api-key", key),
                _ => request.bearer_auth(key),
            };
        }
        if account.wire() == Wire::Anthropic {
            request = request.header("anthropic-version", "2023-06-01");
        }
        Ok(request)
    }

    /// Sends a request and reads a JSON answer, mapping failures to [`ProviderError`].
    async fn send(
        &self,
        account: &AccountSpec,
        request: reqwest::RequestBuilder,
    ) -> Result<Value, ProviderError> {
        let unreachable = |e: reqwest::Error| ProviderError::Unreachable {
            account: account.id.clone(),
            message: e.without_url().to_string(),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let text = response.text().await.map_err(unreachable)?;
        if !status.is_success() {
            let mut body = text;
            if body.len() > 500 {
                let mut cut = 500;
                while !body.is_char_boundary(cut) {
                    cut -= 1;
                }
                body.truncate(cut);
            }
            return Err(ProviderError::Status {
                account: account.id.clone(),
                status: status.as_u16(),
                body,
            });
        }
        serde_json::from_str(&text).map_err(|e| ProviderError::Answer {
            account: account.id.clone(),
            message: format!("not JSON: {e}"),
        })
    }

    /// The models the account offers: its fixed list, else the provider's `GET /models`.
    pub async fn models(&self, account: &AccountSpec) -> Result<Vec<Model>, ProviderError> {
        if let Some(fixed) = &account.models {
            return Ok(fixed
                .iter()
                .map(|id| Model::new(&account.integration, &account.id, id, None))
                .collect());
        }
        let request = self.request(account, reqwest::Method::GET, "models")?;
        let list = self.send(account, request).await?;
        Ok(integrations::models_of(&account.integration, &account.id, &list))
    }

    /// Runs a chat completion through the account.
    pub async fn complete(
        &self,
        account: &AccountSpec,
        request: &InferenceRequest,
    ) -> Result<Completion, ProviderError> {
        let answer_error = |e: integrations::AnswerError| ProviderError::Answer {
            account: account.id.clone(),
            message: e.to_string(),
        };
        match account.wire() {
            Wire::OpenAi => {
                let answer = self.chat(account, &request.openai_body()).await?;
                Completion::from_openai(&answer).map_err(answer_error)
            }
            Wire::Anthropic => {
                let http = self.request(account, reqwest::Method::POST, "messages")?;
                let answer = self.send(account, http.json(&request.anthropic_body())).await?;
                Completion::from_anthropic(&answer).map_err(answer_error)
            }
        }
    }

    /// Posts an OpenAI chat-completions body as it is and returns the answer (what LLM
    /// judges send). Anthropic accounts cannot take it.
    pub async fn chat(&self, account: &AccountSpec, body: &Value) -> Result<Value, ProviderError> {
        if account.wire() != Wire::OpenAi {
            return Err(ProviderError::Unsupported(format!(
                "account '{}' is an {} account; this call needs an OpenAI-compatible one",
                account.id, account.integration
            )));
        }
        let request = self.request(account, reqwest::Method::POST, "chat/completions")?;
        self.send(account, request.json(body)).await
    }

    /// Embeds `texts` with the account's `embedding_model`, in batches.
    pub async fn embed(
        &self,
        account: &AccountSpec,
        texts: &[String],
    ) -> Result<Vec<Vec<f32>>, ProviderError> {
        let Some(model) = &account.embedding_model else {
            return Err(ProviderError::Unsupported(format!(
                "account '{}' has no embedding_model",
                account.id
            )));
        };
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(256) {
            let request = self.request(account, reqwest::Method::POST, "embeddings")?;
            let body = serde_json::json!({"model": model, "input": batch});
            let answer = self.send(account, request.json(&body)).await?;
            let vectors = integrations::embeddings_of(&answer, batch.len()).map_err(|e| {
                ProviderError::Answer { account: account.id.clone(), message: e.to_string() }
            })?;
            out.extend(vectors);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_checked_and_keys_hidden() {
        let text = r#"{"accounts": [
            {"integration": "openai", "id": "a", "base_url": "http://127.0.0.1:1/v1", "api_key_env": "K"},
            {"integration": "anthropic", "id": "b", "base_url": "https://x", "api_key": "secret-b"}]}"#;
        let accounts =
            AccountSpec::parse_file(text, |n| (n == "K").then(|| "secret-a".into())).unwrap();
        assert_eq!(accounts[0].api_key.as_deref(), Some("secret-a"));
        let shown = format!("{accounts:?}");
        assert!(!shown.contains("secret-"), "{shown}");
        let public = serde_json::to_string(&accounts[1].public()).unwrap();
        assert!(!public.contains("secret-"), "{public}");

        let err = |text: &str| AccountSpec::parse_file(text, |_| None).unwrap_err().to_string();
        assert!(
            err(r#"{"accounts": [{"integration": "openai", "id": "a", "base_url": "x"}]}"#)
                .contains("base_url must start with http://")
        );
        assert!(
            err(
                r#"{"accounts": [{"integration": "vertex_ai", "id": "a", "base_url": "http://x"}]}"#
            )
            .contains("not supported")
        );
        assert!(err(r#"{"accounts": [{"integration": "openai", "id": "a", "base_url": "http://x", "api_key_env": "NOPE"}]}"#)
            .contains("NOPE (api_key_env) is not set"));
        let twice = r#"{"accounts": [{"integration": "openai", "id": "a", "base_url": "http://x"},
                                      {"integration": "openai", "id": "a", "base_url": "http://y"}]}"#;
        assert!(err(twice).contains("appears twice"));
    }
}
