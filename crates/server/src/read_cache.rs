//! A cache of serialised `get_prompt` answers (E1 latest, E2 by label, E3 by version).
//!
//! Reads are most of the traffic and each costs several queries; this keeps the JSON of
//! recent answers in memory.
//!
//! - A successful write to a prompt drops every cached answer of that prompt, in this
//!   process, right after the write commits.
//! - A read that raced a write cannot put back what it read before the write: every
//!   write bumps a counter, and an answer is only cached if no write happened between the
//!   start of its read and its insertion.
//! - Entries live at most `ttl`, which bounds how stale another server's answers can be
//!   when several servers share one PostgreSQL database. A zero `ttl` turns the cache off.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;

/// Beyond this many cached prompts the cache is emptied, to bound memory.
const MAX_PROMPTS: usize = 10_000;

/// Which answer of a prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selector {
    /// E1: the newest version.
    Latest,
    /// E2: the version carrying this label.
    Label(String),
    /// E3: this version number.
    Version(i64),
}

type Answers = Vec<(Selector, Bytes, Instant)>;
type Map<V> = HashMap<String, V, foldhash::fast::RandomState>;

/// The cache; one per server.
#[derive(Debug)]
pub(crate) struct ReadCache {
    ttl: Duration,
    writes: AtomicU64,
    /// org → prompt_id → answers.
    entries: RwLock<Map<Map<Answers>>>,
}

/// The write counter when a read started; see [`ReadCache::put`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stamp(u64);

impl ReadCache {
    /// A cache whose entries live at most `ttl`.
    pub(crate) fn new(ttl: Duration) -> Self {
        ReadCache { ttl, writes: AtomicU64::new(0), entries: RwLock::default() }
    }

    /// A cached answer, if fresh.
    pub(crate) fn get(&self, org: &str, prompt_id: &str, selector: &Selector) -> Option<Bytes> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.read().expect("read cache poisoned");
        let answers = entries.get(org)?.get(prompt_id)?;
        let (_, bytes, at) = answers.iter().find(|(s, _, _)| s == selector)?;
        (at.elapsed() <= self.ttl).then(|| bytes.clone())
    }

    /// Call before reading from the store; pass the stamp to [`ReadCache::put`].
    pub(crate) fn stamp(&self) -> Stamp {
        Stamp(self.writes.load(Ordering::Acquire))
    }

    /// Caches an answer read since `stamp`, unless a write happened meanwhile.
    pub(crate) fn put(
        &self,
        stamp: Stamp,
        org: &str,
        prompt_id: &str,
        selector: Selector,
        bytes: Bytes,
    ) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.write().expect("read cache poisoned");
        // Checked under the lock that `invalidate` also takes after bumping the counter.
        if self.writes.load(Ordering::Acquire) != stamp.0 {
            return;
        }
        let cached: usize = entries.values().map(HashMap::len).sum();
        if cached >= MAX_PROMPTS {
            entries.clear();
        }
        let answers =
            entries.entry(org.to_owned()).or_default().entry(prompt_id.to_owned()).or_default();
        let now = Instant::now();
        answers.retain(|(s, _, at)| s != &selector && now.duration_since(*at) <= self.ttl);
        answers.push((selector, bytes, now));
    }

    /// Drops every answer of a prompt; call after a successful write to it.
    pub(crate) fn invalidate(&self, org: &str, prompt_id: &str) {
        self.writes.fetch_add(1, Ordering::AcqRel);
        let mut entries = self.entries.write().expect("read cache poisoned");
        if let Some(prompts) = entries.get_mut(org) {
            prompts.remove(prompt_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }

    #[test]
    fn answers_are_kept_per_org_prompt_and_selector() {
        let cache = ReadCache::new(Duration::from_secs(60));
        cache.put(cache.stamp(), "o", "p", Selector::Latest, bytes("latest"));
        cache.put(cache.stamp(), "o", "p", Selector::Version(1), bytes("v1"));
        assert_eq!(cache.get("o", "p", &Selector::Latest), Some(bytes("latest")));
        assert_eq!(cache.get("o", "p", &Selector::Version(1)), Some(bytes("v1")));
        assert_eq!(cache.get("o", "p", &Selector::Label("x".into())), None);
        assert_eq!(cache.get("other", "p", &Selector::Latest), None);
        assert_eq!(cache.get("o", "p:x", &Selector::Latest), None);
    }

    #[test]
    fn a_write_drops_the_prompt_and_a_racing_read_is_not_cached() {
        let cache = ReadCache::new(Duration::from_secs(60));
        cache.put(cache.stamp(), "o", "p", Selector::Latest, bytes("old"));
        cache.put(cache.stamp(), "o", "q", Selector::Latest, bytes("other"));
        let before_write = cache.stamp();
        cache.invalidate("o", "p");
        assert_eq!(cache.get("o", "p", &Selector::Latest), None);
        assert_eq!(cache.get("o", "q", &Selector::Latest), Some(bytes("other")));
        // A read that started before the write must not put its answer back.
        cache.put(before_write, "o", "p", Selector::Latest, bytes("stale"));
        assert_eq!(cache.get("o", "p", &Selector::Latest), None);
        cache.put(cache.stamp(), "o", "p", Selector::Latest, bytes("new"));
        assert_eq!(cache.get("o", "p", &Selector::Latest), Some(bytes("new")));
    }

    #[test]
    fn entries_expire_and_a_zero_ttl_caches_nothing() {
        let cache = ReadCache::new(Duration::from_millis(20));
        cache.put(cache.stamp(), "o", "p", Selector::Latest, bytes("x"));
        assert!(cache.get("o", "p", &Selector::Latest).is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(cache.get("o", "p", &Selector::Latest), None);
        let off = ReadCache::new(Duration::ZERO);
        off.put(off.stamp(), "o", "p", Selector::Latest, bytes("x"));
        assert_eq!(off.get("o", "p", &Selector::Latest), None);
    }
}
