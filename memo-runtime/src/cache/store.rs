//! Writes to the L1 map and the CLOCK eviction that keeps it within capacity.
//!
//! Reads never lock: they probe the lock-free `HashIndex` and set an entry's reference bit if it
//! is clear. Writes (a load's result, `put`, `invalidate`) take the cache's writer lock, which
//! also guards a FIFO ring of `(key, generation)`. When the cache holds more than its capacity,
//! the hand pops the ring's front: an entry whose reference bit is set gets a second chance
//! (bit cleared, pushed to the back), an expired or unreferenced one is evicted. Ring items
//! whose generation no longer matches the stored entry (replaced or removed since) are dropped,
//! and the ring is compacted when such leftovers pile up, so its size stays O(capacity).

use std::collections::VecDeque;
use std::sync::atomic::Ordering;

use scc::hash_index::Entry as Slot;

use super::Cache;
use crate::clock;
use crate::entry::Entry;
use crate::outcome::{CacheKey, CacheValue};

/// State guarded by the writer lock.
#[derive(Debug)]
pub(crate) struct Writer<K> {
    ring: VecDeque<(K, u64)>,
    live: usize,
    next_generation: u64,
}

impl<K> Default for Writer<K> {
    fn default() -> Self {
        Self { ring: VecDeque::new(), live: 0, next_generation: 0 }
    }
}

impl<K: CacheKey, V: CacheValue> Cache<K, V> {
    /// Stores `entry` under `key`, replacing any entry there, then evicts down to capacity.
    /// The caller holds the writer lock.
    pub(super) fn write(&self, w: &mut Writer<K>, key: K, mut entry: Entry<V>) {
        if self.policy.capacity == 0 {
            return;
        }
        w.next_generation += 1;
        entry.meta.generation = w.next_generation;
        match self.map.entry_sync(key.clone()) {
            Slot::Occupied(mut o) => o.update(entry),
            Slot::Vacant(v) => {
                v.insert_entry(entry);
                w.live += 1;
            }
        }
        w.ring.push_back((key, w.next_generation));
        self.evict(w);
        self.entries.store(w.live, Ordering::Relaxed);
    }

    /// Removes `key`'s entry; true if there was one. The caller holds the writer lock.
    pub(super) fn remove(&self, w: &mut Writer<K>, key: &K) -> bool {
        let removed = self.map.remove_sync(key);
        if removed {
            w.live -= 1;
            self.entries.store(w.live, Ordering::Relaxed);
        }
        removed
    }

    /// Removes every entry. The caller holds the writer lock.
    pub(super) fn clear(&self, w: &mut Writer<K>) {
        self.map.clear_sync();
        w.ring.clear();
        w.live = 0;
        self.entries.store(0, Ordering::Relaxed);
    }

    fn evict(&self, w: &mut Writer<K>) {
        let now = clock::now_millis_fast();
        // Every live entry has exactly one ring item with its generation, so while the cache
        // is over capacity the ring is not empty; the bound on turns is a second guard.
        let mut turns = 2 * w.ring.len() + 1;
        while w.live > self.policy.capacity && turns > 0 {
            turns -= 1;
            let Some((key, generation)) = w.ring.pop_front() else { break };
            let verdict = self.map.peek_with(&key, |_, e| {
                if e.meta.generation != generation {
                    Verdict::Leftover
                } else if e.meta.keep_until() > now
                    && e.meta.tags_checked.load(Ordering::Relaxed) != crate::tags::INVALID
                    && e.meta.referenced.swap(false, Ordering::Relaxed)
                {
                    Verdict::SecondChance
                } else {
                    Verdict::Evict
                }
            });
            match verdict {
                Some(Verdict::SecondChance) => w.ring.push_back((key, generation)),
                Some(Verdict::Evict) => {
                    if self.map.remove_sync(&key) {
                        w.live -= 1;
                        self.evictions.add(1);
                    }
                }
                Some(Verdict::Leftover) | None => {}
            }
        }
        if w.ring.len() > 2 * w.live + 64 {
            self.compact(w);
        }
    }

    /// Drops ring items left behind by replaced or removed entries.
    fn compact(&self, w: &mut Writer<K>) {
        w.ring.retain(|(key, generation)| {
            self.map.peek_with(key, |_, e| e.meta.generation == *generation).unwrap_or(false)
        });
    }
}

enum Verdict {
    Leftover,
    SecondChance,
    Evict,
}
