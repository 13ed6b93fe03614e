//! The ingest journal (SQLite only): experiment spans and events acknowledged before they
//! are stored in their tables.
//!
//! SQLite has one writer, and storing an experiment's record (its span, its evaluations,
//! their keys, the search row and its full-text entry, and the covering indexes the pages
//! read) is about twenty B-tree inserts. Done while the client waits, that work set the
//! pace of an experiment run. So on SQLite a span intake request whose spans join an
//! experiment, and every experiment events post, is checked as before (a bad body or an
//! unknown experiment is still refused) and then kept as one row of `ingest_journal`,
//! committed before the answer: an acknowledged write survives a crash. A background task
//! applies the rows in order, with the same code that stored them directly before, up to
//! [`ROWS_PER_TURN`] in a transaction, whenever the intake has been quiet for [`QUIET`].
//!
//! The journal holds one burst of the intake at most: once a burst has been journaled for
//! [`MAX_WAIT`], or holds [`MAX_PENDING`] rows or [`MAX_PENDING_BYTES`], the request that
//! finds it so stores what is pending, and the rest of the burst goes straight to the
//! tables until the intake pauses ([`Journal::finish`]). So the journal never grows without
//! bound, nothing is stored twice while the tables are the bottleneck, and no row
//! overtakes an older one.
//!
//! Nothing reads around the journal: [`Store::catch_up`] applies whatever is pending
//! first, and every read of experiment results, spans and traces, and every delete of an
//! experiment or project, reaches its pool through `reads()` or `writes()`, which call it.
//! So a client that reads right after a write sees it, as before. Prompts, datasets and
//! keys never wait for it. A row that cannot be applied (which the checks at intake make
//! unexpected) is kept, marked with its error and logged, and holds none of the others up.
//! Rows left by a crash are applied after the next start; closing the store applies them.
//!
//! PostgreSQL has no journal: its writers run in parallel, and several servers would
//! have to agree on who applies what.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::value::RawValue;
use sqlx::{AnyConnection, AnyPool, Connection};
use tokio::sync::Notify;

use crate::Store;
use crate::error::{Error, Result};
use crate::experiments::RawEvents;
use crate::keys::OrgId;

/// How long the intake must be quiet before the background task applies the journal, and
/// before a burst that went straight to the tables is journaled again.
#[cfg(not(test))]
pub(crate) const QUIET: Duration = Duration::from_millis(100);

/// Longer in tests, whose bursts must not pause by accident on a loaded machine.
#[cfg(test)]
pub(crate) const QUIET: Duration = Duration::from_millis(500);

/// How long a burst is journaled at most: past it, the rest goes straight to the tables.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(1);

/// Rows a burst journals at most (see [`MAX_WAIT`]).
const MAX_PENDING: u64 = 1024;

/// Text a burst journals at most (see [`MAX_WAIT`]): 32 MiB, about 17,000 records of the
/// SDK's runner, a second or two of the writer's time for a read that arrives then.
const MAX_PENDING_BYTES: u64 = 32 << 20;

/// Rows applied in one transaction, before other writers get a turn.
const ROWS_PER_TURN: usize = 16;

/// Text of rows applied in one transaction, at most (past one row).
const BYTES_PER_TURN: usize = 4 << 20;

/// What a journal row holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A span intake request: the JSON list of its spans.
    Spans,
    /// An experiment events post: its `attributes` (metrics, spans, tags).
    Events,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Spans => "spans",
            Kind::Events => "events",
        }
    }
}

/// The journal's state in this process. Times are milliseconds since `started`.
#[derive(Debug)]
pub(crate) struct Journal {
    started: Instant,
    /// Rows not yet applied (nor failed).
    pending: AtomicU64,
    /// Their text, in bytes.
    pending_bytes: AtomicU64,
    /// When the oldest pending row was kept (meaningful while `pending` is not 0).
    pending_since: AtomicU64,
    /// When an intake request last finished (with [`Journal::finish`]).
    last_intake: AtomicU64,
    /// Set when a burst outgrew the journal: the intake stores straight to the tables
    /// until it has been quiet for [`QUIET`].
    behind: AtomicBool,
    /// Wakes the background task.
    wake: Notify,
    /// Tests hold the background task back, to see rows wait.
    #[cfg(test)]
    paused: AtomicBool,
}

impl Journal {
    fn new(rows: u64, bytes: u64) -> Self {
        Journal {
            started: Instant::now(),
            pending: AtomicU64::new(rows),
            pending_bytes: AtomicU64::new(bytes),
            pending_since: AtomicU64::new(0),
            last_intake: AtomicU64::new(0),
            behind: AtomicBool::new(false),
            wake: Notify::new(),
            #[cfg(test)]
            paused: AtomicBool::new(false),
        }
    }

    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Whether the intake request at hand goes to the journal (the caller holds the
    /// writer): not while a burst that outgrew the journal goes on.
    pub(crate) fn open(&self) -> bool {
        let quiet = self.now().saturating_sub(self.last_intake.load(Ordering::Acquire));
        if quiet >= QUIET.as_millis() as u64 {
            self.behind.store(false, Ordering::Release);
        }
        !self.behind.load(Ordering::Acquire)
    }

    /// Keeps one request's writes (`body`: the spans, or the events' attributes, as JSON),
    /// to be applied later; the caller holds the writer.
    pub(crate) async fn keep(
        &self,
        conn: &mut AnyConnection,
        kind: Kind,
        org: Option<&OrgId>,
        experiment: Option<&str>,
        body: &impl Serialize,
        now: &str,
    ) -> Result<()> {
        let body = serde_json::to_string(body).map_err(|err| Error::Invalid(err.to_string()))?;
        sqlx::query(
            "INSERT INTO ingest_journal (kind, org_uuid, experiment_uuid, body, received_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(kind.as_str())
        .bind(org.map(|org| org.0.clone()))
        .bind(experiment)
        .bind(&body)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        if self.pending.fetch_add(1, Ordering::AcqRel) == 0 {
            self.pending_since.store(self.now(), Ordering::Release);
        }
        self.pending_bytes.fetch_add(body.len() as u64, Ordering::AcqRel);
        Ok(())
    }

    /// Ends an intake request (`conn` is the writer), journaled or not. A burst that has
    /// been journaled for [`MAX_WAIT`], or holds [`MAX_PENDING`] rows or
    /// [`MAX_PENDING_BYTES`], stores what is pending here, and the rest of it goes straight
    /// to the tables: while they are the bottleneck, nothing is stored twice, and no row
    /// overtakes an older one.
    pub(crate) async fn finish(&self, conn: &mut AnyConnection) -> Result<()> {
        let pending = self.pending();
        let waited = self.now().saturating_sub(self.pending_since.load(Ordering::Acquire));
        if pending > 0
            && !self.behind.load(Ordering::Acquire)
            && (pending > MAX_PENDING
                || self.pending_bytes.load(Ordering::Acquire) > MAX_PENDING_BYTES
                || waited >= MAX_WAIT.as_millis() as u64)
        {
            apply_all(conn, self).await?;
            self.behind.store(true, Ordering::Release);
        }
        self.last_intake.store(self.now(), Ordering::Release);
        self.wake.notify_one();
        Ok(())
    }

    fn pending(&self) -> u64 {
        self.pending.load(Ordering::Acquire)
    }

    #[cfg(test)]
    fn paused(&self) -> bool {
        self.paused.load(Ordering::Acquire)
    }

    #[cfg(not(test))]
    fn paused(&self) -> bool {
        false
    }
}

/// Opens the journal of a SQLite store: counts the rows left by the last run (they are
/// applied first) and starts the background task, which applies rows whenever the intake
/// has been quiet for [`QUIET`], and ends when `alive` can no longer be upgraded or the
/// pool is closed.
pub(crate) async fn start(write: &AnyPool, alive: Weak<()>) -> Result<Arc<Journal>> {
    let (rows, bytes): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(LENGTH(body)), 0) FROM ingest_journal WHERE failed IS NULL",
    )
    .fetch_one(write)
    .await?;
    let journal = Arc::new(Journal::new(rows.max(0) as u64, bytes.max(0) as u64));
    let task = (write.clone(), Arc::clone(&journal));
    tokio::spawn(async move {
        let (write, journal) = task;
        loop {
            if journal.pending() == 0 || journal.paused() {
                // Woken by the intake, or now and then to see whether the store is gone.
                let _ = tokio::time::timeout(MAX_WAIT, journal.wake.notified()).await;
                if alive.strong_count() == 0 || write.is_closed() {
                    break;
                }
                continue;
            }
            let quiet = journal.now().saturating_sub(journal.last_intake.load(Ordering::Acquire));
            if let Some(left) = QUIET.checked_sub(Duration::from_millis(quiet))
                && !left.is_zero()
            {
                tokio::time::sleep(left).await;
                continue;
            }
            let turn = async {
                let mut conn = write.acquire().await?;
                apply(&mut conn, &journal).await
            };
            if let Err(err) = turn.await {
                tracing::warn!(error = %err, "applying the ingest journal failed; retried later");
                tokio::time::sleep(MAX_WAIT).await;
            }
        }
    });
    Ok(journal)
}

/// A journal row: seq, kind, org, experiment, body, received at.
type Row = (i64, String, Option<String>, Option<String>, String, String);

/// Applies the oldest journal rows, up to [`ROWS_PER_TURN`] of them or [`BYTES_PER_TURN`]
/// of their text, in one transaction; the caller holds the writer. Each row is applied in
/// a savepoint of its own: one that fails is marked with its error and the others stay.
/// Returns how many rows it took (applied or failed).
async fn apply(conn: &mut AnyConnection, journal: &Journal) -> Result<usize> {
    let mut tx = conn.begin().await?;
    let (mut taken, mut bytes, mut after) = (0, 0, 0_i64);
    while taken < ROWS_PER_TURN && bytes < BYTES_PER_TURN {
        let row: Option<Row> = sqlx::query_as(
            "SELECT seq, kind, org_uuid, experiment_uuid, body, received_at \
                 FROM ingest_journal WHERE seq > $1 AND failed IS NULL ORDER BY seq LIMIT 1",
        )
        .bind(after)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((seq, kind, org, experiment, body, received_at)) = row else {
            break;
        };
        (taken, bytes, after) = (taken + 1, bytes + body.len(), seq);
        let org = org.map(OrgId);
        let mut one = tx.begin().await?;
        let applied = match kind.as_str() {
            "spans" => apply_spans(&mut one, org.as_ref(), &body, &received_at).await,
            "events" => {
                apply_events(&mut one, org.as_ref(), experiment.as_deref(), &body, &received_at)
                    .await
            }
            other => Err(Error::Invalid(format!("unknown journal row kind '{other}'"))),
        };
        match applied {
            Ok(()) => {
                one.commit().await?;
                sqlx::query("DELETE FROM ingest_journal WHERE seq = $1")
                    .bind(seq)
                    .execute(&mut *tx)
                    .await?;
            }
            Err(err) if transient(&err) => {
                // Busy or gone for now: the whole turn is tried again later.
                return Err(err);
            }
            Err(err) => {
                one.rollback().await?;
                tracing::error!(seq, kind, error = %err,
                    "an ingest journal row cannot be applied; kept, marked failed");
                sqlx::query("UPDATE ingest_journal SET failed = $1 WHERE seq = $2")
                    .bind(err.to_string())
                    .bind(seq)
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    tx.commit().await?;
    if taken == 0 {
        journal.pending.store(0, Ordering::Release);
        journal.pending_bytes.store(0, Ordering::Release);
    } else {
        less(&journal.pending, taken as u64);
        less(&journal.pending_bytes, bytes as u64);
    }
    Ok(taken)
}

/// Takes `by` off a counter, down to 0 at most.
fn less(counter: &AtomicU64, by: u64) {
    let _ =
        counter.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| Some(n.saturating_sub(by)));
}

/// Applies every pending row, turn after turn; the caller holds the writer.
async fn apply_all(conn: &mut AnyConnection, journal: &Journal) -> Result<()> {
    while journal.pending() > 0 {
        apply(conn, journal).await?;
    }
    Ok(())
}

/// Whether an error applying a row says nothing about the row: the database was busy
/// (another process writing), locked, or out of reach. Any other error would recur, so the
/// row is marked failed instead of holding the journal up.
fn transient(err: &Error) -> bool {
    match err {
        Error::Open(_) => true,
        Error::Database(sqlx::Error::Database(db)) => {
            // SQLite's primary codes SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their
            // extended codes (the primary code is the low byte).
            let code = db.code().and_then(|code| code.parse::<i64>().ok()).unwrap_or(0);
            matches!(code & 0xff, 5 | 6)
        }
        Error::Database(
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed,
        ) => true,
        _ => false,
    }
}

async fn apply_spans(
    conn: &mut AnyConnection,
    org: Option<&OrgId>,
    body: &str,
    now: &str,
) -> Result<()> {
    let spans: Vec<&RawValue> = serde_json::from_str(body)
        .map_err(|err| Error::Invalid(format!("journal row is not a list of spans: {err}")))?;
    crate::intake::store_spans(conn, org, &spans, now).await.map(|_| ())
}

async fn apply_events(
    conn: &mut AnyConnection,
    org: Option<&OrgId>,
    experiment: Option<&str>,
    body: &str,
    now: &str,
) -> Result<()> {
    let (Some(org), Some(experiment)) = (org, experiment) else {
        return Err(Error::Invalid("journal row of events names no org or experiment".into()));
    };
    let events: RawEvents = serde_json::from_str(body)
        .map_err(|err| Error::Invalid(format!("journal row is not experiment events: {err}")))?;
    crate::experiments::store_events(conn, org, experiment, &events, now).await.map(|_| ())
}

impl Store {
    /// Applies every pending journal row, so that what follows reads (or writes after)
    /// everything acknowledged so far. Nothing to do on PostgreSQL, or when none is pending.
    pub async fn catch_up(&self) -> Result<()> {
        let Some(journal) = &self.journal else {
            return Ok(());
        };
        if journal.pending() == 0 {
            return Ok(());
        }
        apply_all(&mut *self.write.acquire().await?, journal).await
    }

    /// The read pool, once every journaled write is applied.
    pub(crate) async fn reads(&self) -> Result<&AnyPool> {
        self.catch_up().await?;
        Ok(&self.read)
    }

    /// The write pool, once every journaled write is applied.
    pub(crate) async fn writes(&self) -> Result<&AnyPool> {
        self.catch_up().await?;
        Ok(&self.write)
    }

    /// Journal rows waiting to be applied (0 on PostgreSQL).
    pub fn pending_ingest(&self) -> u64 {
        self.journal.as_ref().map_or(0, |journal| journal.pending())
    }

    /// Whether this store keeps a journal (SQLite).
    pub(crate) fn journal(&self) -> Option<&Journal> {
        self.journal.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::str::FromStr;
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};

    use sqlx::AnyConnection;
    use sqlx::ConnectOptions;
    use sqlx::any::AnyConnectOptions;

    use crate::experiments::tests::{events, experiment_of, metric, span};
    use crate::{Database, OrgId, Store};

    async fn open(path: &Path) -> Store {
        Store::open(&Database::Sqlite(path.to_owned())).await.unwrap()
    }

    /// A connection of the test's own: what it reads does not apply the journal.
    async fn own(path: &Path) -> AnyConnection {
        let url = format!("sqlite://{}", path.display());
        AnyConnectOptions::from_str(&url).unwrap().connect().await.unwrap()
    }

    /// The journal's rows, in order: kind and, for a row that failed, its error.
    async fn rows(path: &Path) -> Vec<(String, Option<String>)> {
        let sql = "SELECT kind, failed FROM ingest_journal ORDER BY seq";
        sqlx::query_as(sql).fetch_all(&mut own(path).await).await.unwrap()
    }

    async fn metrics_stored(path: &Path) -> i64 {
        let sql = "SELECT COUNT(*) FROM experiment_metrics";
        sqlx::query_scalar(sql).fetch_one(&mut own(path).await).await.unwrap()
    }

    /// The background task held back, so that kept rows stay in the journal.
    const PAUSED: bool = true;
    /// The background task left to run.
    const RUNNING: bool = false;

    /// An org with one experiment on a fresh SQLite file: the file's directory (kept while
    /// the test runs) and path, the store, the org and the experiment.
    async fn setup(paused: bool) -> (tempfile::TempDir, PathBuf, Store, OrgId, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("llmobs.db");
        let store = open(&path).await;
        let org = store.create_org_keys("a", "org-a-api-key", "org-a-app-key").await.unwrap().org;
        let experiment = experiment_of(&store, &org).await;
        store.journal.as_ref().unwrap().paused.store(paused, Ordering::Release);
        (dir, path, store, org, experiment)
    }

    fn one_record(experiment: &str, id: &str) -> crate::RawEvents {
        events(vec![metric(id, "acc", 0.5)], vec![span(Some(experiment), "t", id, "n")])
    }

    #[tokio::test]
    async fn posted_events_wait_in_the_journal_and_the_next_read_sees_them() {
        let (_dir, path, store, org, experiment) = setup(PAUSED).await;
        assert_eq!(
            store.post_events(&org, &experiment, one_record(&experiment, "s1")).await.unwrap(),
            2
        );
        assert_eq!(rows(&path).await, [("events".to_owned(), None)]);
        assert_eq!(metrics_stored(&path).await, 0);
        assert_eq!(store.pending_ingest(), 1);

        let read = store.experiment_events(&org, &experiment).await.unwrap();
        assert_eq!(read.spans.len(), 1, "{read:?}");
        assert_eq!(read.spans[0]["eval_metrics"].as_array().map(Vec::len), Some(1), "{read:?}");
        assert!(rows(&path).await.is_empty());
        assert_eq!(store.pending_ingest(), 0);
        let journal = store.journal.as_ref().unwrap();
        assert_eq!(journal.pending_bytes.load(Ordering::Acquire), 0);
    }

    #[tokio::test]
    async fn an_unknown_experiment_is_refused_before_the_journal() {
        let (_dir, path, store, org, experiment) = setup(PAUSED).await;
        let unknown = "00000000-0000-4000-8000-000000000000";
        let refused = store.post_events(&org, unknown, one_record(&experiment, "s1")).await;
        assert!(matches!(refused, Err(crate::Error::NotFound(_))), "{refused:?}");
        assert!(rows(&path).await.is_empty());
    }

    #[tokio::test]
    async fn the_background_task_applies_the_journal_without_a_read() {
        let (_dir, path, store, org, experiment) = setup(RUNNING).await;
        store.post_events(&org, &experiment, one_record(&experiment, "s1")).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !rows(&path).await.is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(rows(&path).await.is_empty(), "the journal was never applied");
        assert_eq!(metrics_stored(&path).await, 1);
    }

    #[tokio::test]
    async fn rows_left_by_a_crash_are_applied_at_the_next_open_and_a_bad_one_holds_none_up() {
        let (_dir, path, store, org, experiment) = setup(PAUSED).await;
        store.post_events(&org, &experiment, one_record(&experiment, "s1")).await.unwrap();
        // A row that cannot be applied (its experiment is gone), between two good ones.
        sqlx::query(
            "INSERT INTO ingest_journal (kind, org_uuid, experiment_uuid, body, received_at) \
             VALUES ('events', $1, '00000000-0000-4000-8000-000000000000', '{}', 'now')",
        )
        .bind(&org.0)
        .execute(&mut own(&path).await)
        .await
        .unwrap();
        store.post_events(&org, &experiment, one_record(&experiment, "s2")).await.unwrap();
        // Gone without closing, as after `kill -9`: the journal holds all three.
        drop(store);
        assert_eq!(rows(&path).await.len(), 3);

        let store = open(&path).await;
        assert_eq!(store.pending_ingest(), 3);
        let read = store.experiment_events(&org, &experiment).await.unwrap();
        let ids: Vec<&str> = read.spans.iter().filter_map(|s| s["span_id"].as_str()).collect();
        assert_eq!(ids.len(), 2, "{ids:?}");
        assert!(ids.contains(&"s1") && ids.contains(&"s2"), "{ids:?}");
        let left = rows(&path).await;
        assert_eq!(left.len(), 1, "{left:?}");
        assert!(left[0].1.as_deref().is_some_and(|e| e.contains("not found")), "{left:?}");
        assert_eq!(store.pending_ingest(), 0);
    }

    #[tokio::test]
    async fn a_burst_past_the_bound_stores_what_is_pending_then_directly_until_it_pauses() {
        let (_dir, path, store, org, experiment) = setup(PAUSED).await;
        let journal = store.journal.as_ref().unwrap();
        let post = async |id: &str| {
            store.post_events(&org, &experiment, one_record(&experiment, id)).await.unwrap();
        };
        // A burst of more rows than the bound: the post past it stores what is pending,
        // and the posts after it go straight to the tables.
        let posts = super::MAX_PENDING + 3;
        for i in 0..posts {
            post(&format!("s{i}")).await;
            assert!(store.pending_ingest() <= super::MAX_PENDING);
        }
        assert!(journal.behind.load(Ordering::Acquire));
        assert!(rows(&path).await.is_empty());
        assert_eq!(metrics_stored(&path).await as u64, posts);
        // After a pause the journal takes writes again.
        tokio::time::sleep(super::QUIET + Duration::from_millis(20)).await;
        post("after").await;
        assert_eq!(rows(&path).await.len(), 1);
        // A burst that goes on for longer than MAX_WAIT stops being journaled too.
        tokio::time::sleep(super::MAX_WAIT).await;
        post("late").await;
        assert!(journal.behind.load(Ordering::Acquire));
        assert!(rows(&path).await.is_empty());
        let read = store.experiment_events(&org, &experiment).await.unwrap();
        assert_eq!(read.spans.len() as u64, posts + 2);
    }

    #[tokio::test]
    async fn closing_applies_the_journal() {
        let (_dir, path, store, org, experiment) = setup(PAUSED).await;
        store.post_events(&org, &experiment, one_record(&experiment, "s1")).await.unwrap();
        store.close().await;
        assert!(rows(&path).await.is_empty());
        assert_eq!(metrics_stored(&path).await, 1);
    }
}
