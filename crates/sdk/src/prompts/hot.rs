//! The hot tier: a bounded, least-recently-used map from cache key to prompt.
//!
//! A hit takes one shard's read lock, hashes the borrowed key once, stamps the entry's
//! last use and clones an `Arc`: no allocation and no per-read bookkeeping queue. The
//! stamp is a logical clock shared by the cache: a hit writes only when another entry
//! was used since this one, so repeated hits on one prompt read shared memory without
//! writing to it. (moka
//! was measured first: its `get` alone costs about 180 ns on the reference machine
//! because it records every read for its policy, which leaves no room for a 200 ns
//! `get_prompt`.) Eviction happens on insert: when the map holds more than its capacity,
//! the entry with the oldest last use goes, which is exact LRU for sequential use and a
//! close approximation under concurrent inserts.
//!
//! Staleness is not decided here: entries never expire on their own, so a stale copy can
//! be served while it is refreshed, or for as long as the registry is down.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use hashbrown::HashTable;

use super::cache_key::{Key, KeyRef};
use super::prompt::Prompt;

const SHARDS: usize = 16;

struct Slot {
    key: Key,
    hash: u64,
    prompt: Arc<Prompt>,
    /// The cache's logical clock at this entry's last use.
    last_used: AtomicU64,
}

pub(crate) struct HotCache {
    shards: Box<[RwLock<HashTable<Slot>>]>,
    hasher: foldhash::fast::RandomState,
    len: AtomicUsize,
    capacity: usize,
    /// The logical clock: advanced by every use of an entry other than the last one.
    tick: AtomicU64,
    /// Serialises evictions so two inserts never evict for the same overflow.
    evicting: Mutex<()>,
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl HotCache {
    pub(crate) fn new(capacity: usize) -> Self {
        HotCache {
            shards: (0..SHARDS).map(|_| RwLock::new(HashTable::new())).collect(),
            hasher: foldhash::fast::RandomState::default(),
            len: AtomicUsize::new(0),
            capacity: capacity.max(1),
            tick: AtomicU64::new(0),
            evicting: Mutex::new(()),
        }
    }

    fn locate(&self, key: KeyRef<'_>) -> (u64, &RwLock<HashTable<Slot>>) {
        let hash = self.hasher.hash_one(key);
        (hash, &self.shards[(hash >> 58) as usize % SHARDS])
    }

    fn next_tick(&self) -> u64 {
        self.tick.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The entry for `key`, marked as the most recently used.
    pub(crate) fn get(&self, key: KeyRef<'_>) -> Option<Arc<Prompt>> {
        let (hash, shard) = self.locate(key);
        let table = read(shard);
        let slot = table.find(hash, |slot| slot.key.as_ref() == key)?;
        if slot.last_used.load(Ordering::Relaxed) != self.tick.load(Ordering::Relaxed) {
            slot.last_used.store(self.next_tick(), Ordering::Relaxed);
        }
        Some(slot.prompt.clone())
    }

    /// Inserts or replaces the entry for `key`, then evicts the least recently used
    /// entries beyond the capacity.
    pub(crate) fn insert(&self, key: Key, prompt: Arc<Prompt>) {
        let now = self.next_tick();
        let (hash, shard) = self.locate(key.as_ref());
        {
            let mut table = write(shard);
            match table.find_mut(hash, |slot| slot.key == key) {
                Some(slot) => {
                    slot.prompt = prompt;
                    slot.last_used.store(now, Ordering::Relaxed);
                    return;
                }
                None => {
                    let slot = Slot { key, hash, prompt, last_used: AtomicU64::new(now) };
                    table.insert_unique(hash, slot, |slot| slot.hash);
                    // Counted under the shard's lock, so `len` never runs below the truth.
                    self.len.fetch_add(1, Ordering::AcqRel);
                }
            }
        }
        if self.len.load(Ordering::Acquire) > self.capacity {
            self.evict_overflow();
        }
    }

    fn evict_overflow(&self) {
        let _one_at_a_time = self.evicting.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        while self.len.load(Ordering::Acquire) > self.capacity {
            // Find the least recently used entry across the shards.
            let mut oldest: Option<(usize, u64, u64)> = None;
            for (index, shard) in self.shards.iter().enumerate() {
                for slot in read(shard).iter() {
                    let used = slot.last_used.load(Ordering::Relaxed);
                    if oldest.is_none_or(|(_, _, best)| used < best) {
                        oldest = Some((index, slot.hash, used));
                    }
                }
            }
            let Some((index, hash, used)) = oldest else { return };
            let mut table = write(&self.shards[index]);
            let found = table.find_entry(hash, |slot| {
                slot.hash == hash && slot.last_used.load(Ordering::Relaxed) == used
            });
            if let Ok(entry) = found {
                entry.remove();
                self.len.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    /// Removes the entry for `key`.
    pub(crate) fn remove(&self, key: KeyRef<'_>) {
        let (hash, shard) = self.locate(key);
        if let Ok(entry) = write(shard).find_entry(hash, |slot| slot.key.as_ref() == key) {
            entry.remove();
            self.len.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Removes every entry of one prompt id (all selectors) and of no other id.
    pub(crate) fn remove_prompt(&self, id: &str) {
        for shard in self.shards.iter() {
            let mut table = write(shard);
            let before = table.len();
            table.retain(|slot| &*slot.key.id != id);
            self.len.fetch_sub(before - table.len(), Ordering::AcqRel);
        }
    }

    /// Removes everything.
    pub(crate) fn clear(&self) {
        for shard in self.shards.iter() {
            let mut table = write(shard);
            self.len.fetch_sub(table.len(), Ordering::AcqRel);
            table.clear();
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompts::Fallback;
    use crate::prompts::cache_key::Selector;

    fn prompt(id: &str) -> Arc<Prompt> {
        Arc::new(Prompt::from_fallback(id, Fallback::from("t")))
    }

    fn latest(id: &str) -> Key {
        Key::new(id, Selector::Latest)
    }

    #[test]
    fn least_recently_used_goes_first() {
        let cache = HotCache::new(2);
        cache.insert(latest("a"), prompt("a"));
        cache.insert(latest("b"), prompt("b"));
        assert!(cache.get(latest("a").as_ref()).is_some());
        cache.insert(latest("c"), prompt("c"));
        assert_eq!(cache.len(), 2);
        assert!(cache.get(latest("b").as_ref()).is_none());
        assert!(cache.get(latest("a").as_ref()).is_some());
        assert!(cache.get(latest("c").as_ref()).is_some());
        // Replacing does not grow the map.
        cache.insert(latest("c"), prompt("c2"));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn removal_by_prompt_id_spares_other_ids() {
        let cache = HotCache::new(10);
        cache.insert(latest("g"), prompt("g"));
        cache.insert(Key::new("g", Selector::Version(1)), prompt("g"));
        cache.insert(latest("g:x"), prompt("g:x"));
        cache.remove_prompt("g");
        assert_eq!(cache.len(), 1);
        assert!(cache.get(latest("g:x").as_ref()).is_some());
        cache.remove(latest("g:x").as_ref());
        assert_eq!(cache.len(), 0);
        cache.insert(latest("z"), prompt("z"));
        cache.clear();
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn concurrent_use_keeps_the_bound() {
        let cache = Arc::new(HotCache::new(8));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let cache = cache.clone();
                std::thread::spawn(move || {
                    for i in 0..500u64 {
                        let id = format!("{}", (i * 7 + t) % 20);
                        cache.insert(latest(&id), prompt(&id));
                        cache.get(latest(&id).as_ref());
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert!(cache.len() <= 8);
        let counted: usize = cache.shards.iter().map(|s| read(s).len()).sum();
        assert_eq!(counted, cache.len());
    }
}
