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

/// The PostgreSQL advisory lock held while the first keys are created.
const FIRST_KEYS_LOCK: i64 = 7_358_128;

/// What any new key pair must satisfy.
fn check_new_keys(org_name: &str, api_key: &str, app_key: &str) -> Result<()> {
    if org_name.trim().is_empty() {
        return Err(Error::Invalid("the org name must not be empty".into()));
    }
    if api_key.len() < 8 || app_key.len() < 8 {
        return Err(Error::Invalid("keys must be at least 8 characters long".into()));
    }
    if api_key == app_key {
        return Err(Error::Invalid("the API key and the application key must differ".into()));
    }
    Ok(())
}

/// Inserts a key pair for `org_name` (and the org when it is new) in `conn`'s transaction.
async fn insert_org_keys(
    conn: &mut sqlx::AnyConnection,
    org_name: &str,
    api_key: &str,
    app_key: &str,
) -> Result<OrgKeys> {
    let now = time::now();
    let existing: Option<String> = sqlx::query_scalar("SELECT uuid FROM orgs WHERE name = $1")
        .bind(org_name)
        .fetch_optional(&mut *conn)
        .await?;
    let org = match existing {
        Some(uuid) => uuid,
        None => {
            let uuid = uuid::Uuid::new_v4().to_string();
            sqlx::query("INSERT INTO orgs (uuid, name, created_at) VALUES ($1, $2, $3)")
                .bind(&uuid)
                .bind(org_name)
                .bind(&now)
                .execute(&mut *conn)
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
        .execute(&mut *conn)
        .await
        .map_err(|err| crate::error::on_unique(err, "that key already exists"))?;
    }
    Ok(OrgKeys {
        org_name: org_name.to_owned(),
        org: OrgId(org),
        api_key: api_key.to_owned(),
        app_key: app_key.to_owned(),
    })
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
        check_new_keys(org_name, api_key, app_key)?;
        let mut tx = self.write.begin().await?;
        let keys = insert_org_keys(&mut tx, org_name, api_key, app_key).await?;
        tx.commit().await?;
        Ok(keys)
    }

    /// Creates a random key pair for `org_name`: a 32-hex-digit API key and a
    /// 40-hex-digit application key, the formats Datadog uses.
    pub async fn generate_org_keys(&self, org_name: &str) -> Result<OrgKeys> {
        self.create_org_keys(org_name, &random_hex(16), &random_hex(20)).await
    }

    /// The first keys of a store: creates `org_name`'s key pair (the given keys, or random
    /// ones when `keys` is `None`) only if the store has no key at all, and answers `None`
    /// when it had. Servers starting together on one empty database create the first keys
    /// once: the check and the insert are one transaction, which on PostgreSQL holds an
    /// advisory lock (SQLite takes its write lock at once).
    pub async fn create_first_keys(
        &self,
        org_name: &str,
        keys: Option<(&str, &str)>,
    ) -> Result<Option<OrgKeys>> {
        let (api_key, app_key) = match keys {
            Some((api, app)) => (api.to_owned(), app.to_owned()),
            None => (random_hex(16), random_hex(20)),
        };
        check_new_keys(org_name, &api_key, &app_key)?;
        let mut conn = self.write.acquire().await?;
        let sqlite = conn.backend_name() == "SQLite";
        let mut tx = if sqlite {
            sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?
        } else {
            sqlx::Connection::begin(&mut *conn).await?
        };
        if !sqlite {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(FIRST_KEYS_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        let any: Option<String> = sqlx::query_scalar("SELECT hash FROM api_keys LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
        if any.is_some() {
            return Ok(None);
        }
        let keys = insert_org_keys(&mut tx, org_name, &api_key, &app_key).await?;
        tx.commit().await?;
        Ok(Some(keys))
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

    /// The name of org `org`, if it exists.
    pub async fn org_name(&self, org: &OrgId) -> Result<Option<String>> {
        let name: Option<String> = sqlx::query_scalar("SELECT name FROM orgs WHERE uuid = $1")
            .bind(&org.0)
            .fetch_optional(&self.read)
            .await?;
        Ok(name)
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

#[cfg(test)]
mod tests {
    use crate::Store;

    /// Servers starting together on one empty database: each opens it (migrating under the
    /// lock) and tries to create the first keys; the store ends with exactly one pair.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn servers_starting_together_migrate_once_and_create_the_first_keys_once() {
        let dir = tempfile::tempdir().unwrap();
        let database = crate::test_db::fresh(dir.path()).await;
        let starts = (0..4)
            .map(|i| {
                let database = database.clone();
                tokio::spawn(async move {
                    let store = Store::open(&database).await.expect("open");
                    let keys = (format!("api-key-{i}"), format!("app-key-{i}"));
                    let made = store
                        .create_first_keys("default", Some((&keys.0, &keys.1)))
                        .await
                        .expect("first keys");
                    (store, made.map(|k| k.api_key))
                })
            })
            .collect::<Vec<_>>();
        let mut stores = Vec::new();
        let mut made = Vec::new();
        for start in starts {
            let (store, keys) = start.await.unwrap();
            stores.push(store);
            made.extend(keys);
        }
        assert_eq!(made.len(), 1, "first keys created by {made:?}");
        let store = &stores[0];
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_keys")
            .fetch_one(store.reads().await.unwrap())
            .await
            .unwrap();
        assert_eq!(count, 2);
        assert!(store.find_key(crate::KeyKind::Api, &made[0]).await.unwrap().is_some());
        let migrations: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM llmobs_migrations")
            .fetch_one(store.reads().await.unwrap())
            .await
            .unwrap();
        let expected = i64::try_from(crate::migrate::count()).unwrap();
        assert_eq!(migrations, expected);
        // A store that has keys creates none.
        assert!(store.create_first_keys("default", None).await.unwrap().is_none());
        for store in stores {
            store.close().await;
        }
    }
}
