//! Orgs and their keys. Keys are stored as SHA-256 digests, never in clear.

use sha2::{Digest, Sha256};

use crate::error::{Error, NotFound, Result};
use crate::{Store, time};

/// The org created on first start, which keyless (agent-proxy) eval metrics go to.
pub const DEFAULT_ORG: &str = "default";

/// An organisation's UUID. All data is scoped by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrgId(pub String);

/// What kind of thing [`Store::owner_of`] looks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owned {
    /// An experiment, by its id.
    Experiment,
    /// A dataset, by its id.
    Dataset,
}

/// Who a valid key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The org the key belongs to.
    pub org: OrgId,
    /// The user UUID behind the key, recorded as `author` on writes.
    pub user: String,
}

/// A freshly created key pair, the only time the keys are seen in clear.
#[derive(Debug, Clone)]
pub struct OrgKeys {
    /// The org's name.
    pub org_name: String,
    /// The org's UUID.
    pub org: OrgId,
    /// The API key (reads and intake).
    pub api_key: String,
    /// The application key (writes).
    pub app_key: String,
}

/// Which kind of key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// `DD-API-KEY`.
    Api,
    /// `DD-APPLICATION-KEY`.
    App,
}

impl KeyKind {
    fn as_str(self) -> &'static str {
        match self {
            KeyKind::Api => "api",
            KeyKind::App => "app",
        }
    }
}

fn digest(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// `n` random bytes as lower-case hex.
fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system's random source failed");
    hex::encode(buf)
}

impl Store {
    /// Whether any key exists at all (a fresh store has none).
    pub async fn has_keys(&self) -> Result<bool> {
        let any: Option<String> = sqlx::query_scalar("SELECT hash FROM api_keys LIMIT 1")
            .fetch_optional(&self.read)
            .await?;
        Ok(any.is_some())
    }

    /// Creates a key pair for the org `org_name` (creating the org if needed), with the
    /// given keys. Use [`Store::generate_org_keys`] for random keys.
    pub async fn create_org_keys(
        &self,
        org_name: &str,
        api_key: &str,
        app_key: &str,
    ) -> Result<OrgKeys> {
        if org_name.trim().is_empty() {
            return Err(Error::Invalid("the org name must not be empty".into()));
        }
        if api_key.len() < 8 || app_key.len() < 8 {
            return Err(Error::Invalid("keys must be at least 8 characters long".into()));
        }
        if api_key == app_key {
            return Err(Error::Invalid("the API key and the application key must differ".into()));
        }
        let now = time::now();
        let mut tx = self.write.begin().await?;
        let existing: Option<String> = sqlx::query_scalar("SELECT uuid FROM orgs WHERE name = $1")
            .bind(org_name)
            .fetch_optional(&mut *tx)
            .await?;
        let org = match existing {
            Some(uuid) => uuid,
            None => {
                let uuid = uuid::Uuid::new_v4().to_string();
                sqlx::query("INSERT INTO orgs (uuid, name, created_at) VALUES ($1, $2, $3)")
                    .bind(&uuid)
                    .bind(org_name)
                    .bind(&now)
                    .execute(&mut *tx)
                    .await?;
                uuid
            }
        };
        let user = uuid::Uuid::new_v4().to_string();
        for (kind, key) in [(KeyKind::Api, api_key), (KeyKind::App, app_key)] {
            sqlx::query(
                "INSERT INTO api_keys (hash, org_uuid, kind, user_uuid, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(digest(key))
            .bind(&org)
            .bind(kind.as_str())
            .bind(&user)
            .bind(&now)
            .execute(&mut *tx)
            .await
            .map_err(|err| crate::error::on_unique(err, "that key already exists"))?;
        }
        tx.commit().await?;
        Ok(OrgKeys {
            org_name: org_name.to_owned(),
            org: OrgId(org),
            api_key: api_key.to_owned(),
            app_key: app_key.to_owned(),
        })
    }

    /// Creates a random key pair for `org_name`: a 32-hex-digit API key and a
    /// 40-hex-digit application key, the formats Datadog uses.
    pub async fn generate_org_keys(&self, org_name: &str) -> Result<OrgKeys> {
        self.create_org_keys(org_name, &random_hex(16), &random_hex(20)).await
    }

    /// The org owning the experiment or dataset `id`, whichever org it is.
    pub async fn owner_of(&self, kind: Owned, id: &str) -> Result<OrgId> {
        let sql = match kind {
            Owned::Experiment => "SELECT org_uuid FROM experiments WHERE uuid = $1",
            Owned::Dataset => "SELECT org_uuid FROM datasets WHERE uuid = $1",
        };
        let uuid: Option<String> =
            sqlx::query_scalar(sql).bind(id).fetch_optional(&self.read).await?;
        let noun = match kind {
            Owned::Experiment => "experiment",
            Owned::Dataset => "dataset",
        };
        uuid.map(OrgId)
            .ok_or_else(|| Error::NotFound(NotFound::Other(format!("{noun} '{id}' not found"))))
    }

    /// The org named `name`, if it exists.
    pub async fn org_named(&self, name: &str) -> Result<Option<OrgId>> {
        let uuid: Option<String> = sqlx::query_scalar("SELECT uuid FROM orgs WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.read)
            .await?;
        Ok(uuid.map(OrgId))
    }

    /// The owner of `key` if it is a valid key of that kind.
    pub async fn find_key(&self, kind: KeyKind, key: &str) -> Result<Option<Caller>> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT org_uuid, user_uuid FROM api_keys WHERE hash = $1 AND kind = $2",
        )
        .bind(digest(key))
        .bind(kind.as_str())
        .fetch_optional(&self.read)
        .await?;
        Ok(row.map(|(org, user)| Caller { org: OrgId(org), user }))
    }
}
