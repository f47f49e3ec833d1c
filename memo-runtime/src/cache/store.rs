//! Writes to the L1 map and the eviction that keeps it within capacity: S3-FIFO with gated
//! readmission.
//!
//! Reads never lock: they probe the lock-free `HashIndex` and raise the entry's 2-bit
//! frequency if it is below 3 (so a hot entry's line is not written again). Writes (a load's
//! result, `put`, `invalidate`) take the cache's writer lock, which also guards two FIFOs of
//! `(key, generation)`: a small one (2% of the capacity) where new keys start, and a main one.
//! Over capacity, the small FIFO's oldest entry moves to the main FIFO if it was hit while
//! there, or is evicted and its key's hash remembered in a ghost FIFO; the main FIFO's oldest
//! entry is reinserted while its frequency, decremented each pass, is not zero, or evicted.
//! Expired entries are evicted first wherever they are. A new key whose hash is in the ghost
//! starts in the main FIFO, if the main FIFO has room or a sketch of misses says the key
//! missed more often than the entry it would push out: the rule that holds a loop a little
//! larger than the cache. FIFO items whose generation no longer matches the stored entry
//! (replaced or removed since) are dropped, and the FIFOs are compacted when such leftovers
//! pile up, so their size stays O(capacity). The benchmark behind the choice is
//! `benches/hit_ratio`.
//!
//! Under a bound in bytes (`max_bytes`) the same eviction also runs while the entries weigh
//! more than the bound: the writer keeps their total, weighing an entry as it is stored and
//! again as it leaves (so a weigher must give the same weight for the same entry).

mod admission;

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::sync::atomic::Ordering;

use scc::hash_index::Entry as Slot;

use super::{Cache, Hasher};
use crate::clock;
use crate::entry::Entry;
use crate::outcome::{CacheKey, CacheValue};
use admission::{Ghost, Sketch};

/// What an entry weighs against the byte bound ([`CacheBuilder::max_bytes`]).
///
/// [`CacheBuilder::max_bytes`]: super::CacheBuilder::max_bytes
pub(crate) enum Weigher<K, V> {
    /// The key's and the value's inline size.
    Inline,
    /// A weigher of key and value ([`Cache::with_weigher`]).
    Entry(fn(&K, &V) -> usize),
    /// A weigher of the value (`#[cached(weigher = ...)]`).
    Value(fn(&V) -> usize),
}

impl<K, V> Weigher<K, V> {
    fn weigh(&self, key: &K, value: &V) -> u64 {
        let bytes = match self {
            Self::Inline => size_of::<K>() + size_of::<V>(),
            Self::Entry(weigh) => weigh(key, value),
            Self::Value(weigh) => weigh(value),
        };
        bytes as u64
    }
}

/// State guarded by the writer lock.
#[derive(Debug)]
pub(crate) struct Writer<K> {
    small: VecDeque<(K, u16)>,
    main: VecDeque<(K, u16)>,
    /// Made when the cache first fills.
    history: Option<History>,
    live: usize,
    /// What the live entries weigh, kept only under a byte bound.
    bytes: u64,
    next_generation: u16,
}

/// What the store remembers of keys it does not hold.
#[derive(Debug)]
struct History {
    ghost: Ghost,
    misses: Sketch,
    hasher: Hasher,
}

impl<K> Default for Writer<K> {
    fn default() -> Self {
        Self { small: VecDeque::new(), main: VecDeque::new(), history: None, live: 0, bytes: 0, next_generation: 0 }
    }
}

impl<K: CacheKey> Writer<K> {
    /// Whether a new key starts in the main FIFO: its hash is in the ghost, and the main FIFO
    /// has room or the key missed more often than the main FIFO's next victim.
    fn starts_in_main(&mut self, key: &K, main_capacity: usize) -> bool {
        let Some(h) = &mut self.history else { return false };
        let hash = h.hasher.hash_one(key);
        h.misses.add(hash);
        if !h.ghost.contains(hash) {
            return false;
        }
        let admitted = match self.main.front() {
            Some((victim, _)) if self.main.len() >= main_capacity => {
                h.misses.estimate(hash) > h.misses.estimate(h.hasher.hash_one(victim))
            }
            _ => true,
        };
        if admitted {
            h.ghost.forget(hash);
        }
        admitted
    }
}

/// What to do with the oldest item of a FIFO.
enum Verdict {
    /// The entry was replaced or removed since: drop the item.
    Leftover,
    /// Nothing left to serve (expired, or invalidated by tag): evict it. (With its weight.)
    Expired(u64),
    /// Not hit: evict it to make room. (With its weight.)
    Evict(u64),
    /// Move it to (or keep it in) the main FIFO.
    Keep,
}

impl<K: CacheKey, V: CacheValue> Cache<K, V> {
    fn small_capacity(&self) -> usize {
        (self.policy.capacity / 50).max(1)
    }

    fn main_capacity(&self) -> usize {
        self.policy.capacity.saturating_sub(self.small_capacity())
    }

    /// What an entry weighs, counted only under a byte bound.
    fn weight(&self, key: &K, value: &V) -> u64 {
        if self.policy.max_bytes.is_some() { self.weigher.weigh(key, value) } else { 0 }
    }

    fn over_bound(&self, w: &Writer<K>) -> bool {
        w.live > self.policy.capacity || self.policy.max_bytes.is_some_and(|max| w.bytes > max)
    }

    /// Weighs entries with `weigher` (key, value) against the byte bound
    /// ([`CacheBuilder::max_bytes`](super::CacheBuilder::max_bytes)). It should give the same
    /// weight for the same entry each time. Call it before the cache holds entries.
    ///
    /// ```
    /// let cache: memo_runtime::Cache<u32, Vec<u8>> =
    ///     memo_runtime::Cache::builder().max_bytes(64 << 20).build().with_weigher(|_, bytes| bytes.len());
    /// cache.insert(1, vec![0; 1024]);
    /// ```
    #[must_use]
    pub fn with_weigher(mut self, weigher: fn(&K, &V) -> usize) -> Self {
        self.weigher = Weigher::Entry(weigher);
        self
    }

    /// Weighs entries by their value (the macro's `weigher`).
    pub(crate) fn weigh_values(&mut self, weigher: fn(&V) -> usize) {
        self.weigher = Weigher::Value(weigher);
    }

    /// Stores `entry` under `key`, replacing any entry there, then evicts down to capacity.
    /// A replaced entry keeps its place (small or main FIFO) and its frequency. The caller
    /// holds the writer lock.
    pub(super) fn write(&self, w: &mut Writer<K>, key: K, mut entry: Entry<V>) {
        if self.policy.capacity == 0 {
            return;
        }
        w.next_generation = w.next_generation.wrapping_add(1);
        let generation = w.next_generation;
        entry.meta.generation = generation;
        let weight = self.weight(&key, &entry.value);
        let in_main = match self.map.entry_sync(key.clone()) {
            Slot::Occupied(mut o) => {
                w.bytes = w.bytes.saturating_sub(self.weight(o.key(), &o.get().value));
                let old = &o.get().meta;
                let in_main = old.in_main();
                entry.meta.set_eviction(old.frequency(), in_main);
                o.update(entry);
                in_main
            }
            Slot::Vacant(v) => {
                let in_main = w.starts_in_main(&key, self.main_capacity());
                entry.meta.set_eviction(0, in_main);
                v.insert_entry(entry);
                w.live += 1;
                in_main
            }
        };
        w.bytes += weight;
        let fifo = if in_main { &mut w.main } else { &mut w.small };
        fifo.push_back((key, generation));
        self.evict(w);
        self.entries.store(w.live, Ordering::Relaxed);
    }

    /// Removes `key`'s entry; true if there was one. The caller holds the writer lock.
    pub(super) fn remove(&self, w: &mut Writer<K>, key: &K) -> bool {
        let weight = match self.policy.max_bytes {
            Some(_) => self.map.peek_with(key, |k, e| self.weight(k, &e.value)).unwrap_or(0),
            None => 0,
        };
        let removed = self.map.remove_sync(key);
        if removed {
            w.live -= 1;
            w.bytes = w.bytes.saturating_sub(weight);
            self.entries.store(w.live, Ordering::Relaxed);
        }
        removed
    }

    /// Removes every entry. The caller holds the writer lock.
    pub(super) fn clear(&self, w: &mut Writer<K>) {
        self.map.clear_sync();
        w.small.clear();
        w.main.clear();
        w.live = 0;
        w.bytes = 0;
        self.entries.store(0, Ordering::Relaxed);
    }

    fn evict(&self, w: &mut Writer<K>) {
        if !self.over_bound(w) {
            return;
        }
        let capacity = self.policy.capacity;
        if w.history.is_none() {
            w.history =
                Some(History { ghost: Ghost::new(capacity), misses: Sketch::new(capacity), hasher: Hasher::default() });
        }
        let now = clock::now_millis_fast();
        // Every live entry has exactly one FIFO item with its generation, and an item goes
        // around the main FIFO at most three times (its frequency is at most 3), so this
        // bound on turns is only a second guard.
        let mut turns = 4 * (w.small.len() + w.main.len()) + 1;
        while self.over_bound(w) && turns > 0 {
            turns -= 1;
            let from_small = w.small.len() >= self.small_capacity() || w.main.is_empty();
            let fifo = if from_small { &mut w.small } else { &mut w.main };
            let Some((key, generation)) = fifo.pop_front() else { break };
            match self.verdict(&key, generation, from_small, now) {
                Verdict::Leftover => {}
                Verdict::Keep => w.main.push_back((key, generation)),
                Verdict::Expired(weight) => {
                    if self.map.remove_sync(&key) {
                        w.live -= 1;
                        w.bytes = w.bytes.saturating_sub(weight);
                        self.evicted_expired.add(1);
                    }
                }
                Verdict::Evict(weight) => {
                    if self.map.remove_sync(&key) {
                        w.live -= 1;
                        w.bytes = w.bytes.saturating_sub(weight);
                        self.evicted_for_size.add(1);
                    }
                    if from_small && let Some(h) = &mut w.history {
                        h.ghost.remember(h.hasher.hash_one(&key));
                    }
                }
            }
        }
        if w.small.len() + w.main.len() > 2 * w.live + 64 {
            self.compact(w);
        }
    }

    /// The fate of a FIFO's oldest item. An entry leaving the small FIFO after a hit enters
    /// the main FIFO with its frequency cleared; one in the main FIFO pays one unit of
    /// frequency for each pass it survives.
    fn verdict(&self, key: &K, generation: u16, from_small: bool, now: u64) -> Verdict {
        let verdict = self.map.peek_with(key, |k, e| {
            let meta = &e.meta;
            if meta.generation != generation {
                return Verdict::Leftover;
            }
            if meta.keep_until() <= now || meta.tags.found_invalid() {
                return Verdict::Expired(self.weight(k, &e.value));
            }
            let frequency = meta.frequency();
            if frequency == 0 {
                return Verdict::Evict(self.weight(k, &e.value));
            }
            if from_small {
                meta.set_eviction(0, true);
            } else {
                meta.set_eviction(frequency - 1, true);
            }
            Verdict::Keep
        });
        verdict.unwrap_or(Verdict::Leftover)
    }

    /// Drops FIFO items left behind by replaced or removed entries.
    fn compact(&self, w: &mut Writer<K>) {
        let current = |(key, generation): &(K, u16)| {
            self.map.peek_with(key, |_, e| e.meta.generation == *generation).unwrap_or(false)
        };
        w.small.retain(current);
        w.main.retain(current);
    }
}
