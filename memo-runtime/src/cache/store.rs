//! Writes to the L1 map and the eviction that keeps it within capacity: S3-FIFO with gated
//! readmission.
//!
//! Entries live in a [`Slab`] of slots named by 32-bit ids, and the lock-free [`Index`] maps
//! each key's hash to its slot's id. Reads never lock: they find the id, read the slot, and raise the
//! entry's 2-bit frequency if it is below 3 (so a hot entry's line is not written again).
//! Writes (a load's result, `put`, `invalidate`) take the cache's writer lock, which also
//! guards two FIFOs of `(slot id, generation)`: a small one (2% of the capacity, and of
//! `max_bytes` under a byte bound) where new keys start, and a main one.
//! Over capacity, the small FIFO's oldest entry moves to the main FIFO if it was hit while
//! there, or is evicted and its key's hash remembered in a ghost FIFO; the main FIFO's oldest
//! entry is reinserted while its frequency, decremented each pass, is not zero, or evicted.
//! Expired entries are evicted first wherever they are. A new key whose hash is in the ghost
//! starts in the main FIFO, if the main FIFO has room or a sketch of misses says the key
//! missed more often than the entry it would push out: the rule that holds a loop a little
//! larger than the cache. A slot's generation changes when its entry leaves (replaced or
//! removed), so FIFO items left behind are dropped when they come up, and the FIFOs are
//! compacted when such leftovers pile up, so their size stays O(capacity). The benchmark
//! behind the choice is `benches/hit_ratio`.
//!
//! Under a bound in bytes (`max_bytes`) the same eviction also runs while the entries weigh
//! more than the bound: the writer keeps their total, weighing an entry as it is stored and
//! again as it leaves (so a weigher must give the same weight for the same entry).

mod admission;
mod index;
mod slab;
mod weigher;

use std::collections::VecDeque;
use std::sync::Arc;

use super::Cache;
use crate::clock;
use crate::entry::Entry;
use crate::outcome::{CacheKey, CacheValue};
use crate::stats::Evictions;
use admission::{Ghost, Sketch};
pub(crate) use index::Index;
pub(crate) use slab::Slab;
pub(crate) use weigher::Weigher;

/// State guarded by the writer lock.
#[derive(Debug)]
pub(crate) struct Writer<K, V> {
    /// The slots, shared with readers; live and retired slots are emptied when the writer
    /// drops, with the cache.
    slab: Arc<Slab<K, V>>,
    small: VecDeque<(u32, u16)>,
    main: VecDeque<(u32, u16)>,
    /// Made when the cache first fills.
    history: Option<History>,
    /// Entries in the map.
    pub(crate) live: usize,
    /// Entries evicted, by cause.
    pub(crate) evictions: Evictions,
    /// What the live entries weigh, kept only under a byte bound.
    bytes: u64,
    /// What the live entries of the small FIFO weigh, kept only under a byte bound.
    small_bytes: u64,
    next_generation: u16,
    /// Each slot's generation while it holds a live entry, [`EMPTY`] otherwise.
    generations: Vec<u16>,
    /// Empty slots ready for reuse.
    ready: Vec<u32>,
    /// Slots that left the map during this write, to empty once no reader can see them.
    retired: Vec<u32>,
}

/// The generation of a slot without a live entry.
const EMPTY: u16 = 0;

/// Evicted or replaced slots emptied together.
const RETIRE_BATCH: usize = 32;

/// What the store remembers of keys it does not hold.
#[derive(Debug)]
struct History {
    ghost: Ghost,
    misses: Sketch,
}

impl<K, V> Writer<K, V> {
    pub(crate) fn new(slab: Arc<Slab<K, V>>) -> Self {
        Self {
            slab,
            small: VecDeque::new(),
            main: VecDeque::new(),
            history: None,
            live: 0,
            evictions: Evictions::default(),
            bytes: 0,
            small_bytes: 0,
            next_generation: EMPTY,
            generations: Vec::new(),
            ready: Vec::new(),
            retired: Vec::new(),
        }
    }
}

impl<K, V> Drop for Writer<K, V> {
    fn drop(&mut self) {
        let live = self.generations.iter().enumerate().filter(|&(_, &g)| g != EMPTY).map(|(id, _)| id as u32);
        for id in live.chain(self.retired.drain(..)) {
            // SAFETY: the cache is dropping, so no reader is left, and these slots (live, or
            // retired but not yet handed to a deferred closure) are filled.
            unsafe { self.slab.empty(id) };
        }
    }
}

impl<K: CacheKey, V: CacheValue> Writer<K, V> {
    /// An empty slot for a new entry: one given back, else a new one; none when all 2^32 ids
    /// are taken.
    fn claim(&mut self) -> Option<u32> {
        if self.ready.is_empty() {
            self.ready = self.slab.take_free();
        }
        if let Some(id) = self.ready.pop() {
            return Some(id);
        }
        let id = u32::try_from(self.generations.len()).ok()?;
        self.generations.push(EMPTY);
        Some(id)
    }

    /// Slot `id` left the map: its FIFO items are leftovers from now on, and it is emptied
    /// when the write ends.
    fn retire(&mut self, id: u32) {
        self.generations[id as usize] = EMPTY;
        self.retired.push(id);
    }

    /// Whether a FIFO item is its slot's live entry.
    fn current(&self, &(id, generation): &(u32, u16)) -> bool {
        self.generations.get(id as usize) == Some(&generation)
    }

    /// Whether a new key (with this `hash`) starts in the main FIFO: its hash is in the ghost,
    /// and the main FIFO has room or the key missed more often than the main FIFO's next
    /// victim (`victim` gives the hash of a live slot's key).
    fn starts_in_main(&mut self, hash: u64, main_capacity: usize, victim: impl FnOnce(u32) -> Option<u64>) -> bool {
        let front = self.main.front().copied().filter(|item| self.current(item));
        let full = self.main.len() >= main_capacity;
        let Some(h) = &mut self.history else { return false };
        h.misses.add(hash);
        if !h.ghost.contains(hash) {
            return false;
        }
        let admitted = match front.and_then(|(id, _)| victim(id)) {
            Some(victim) if full => h.misses.estimate(hash) > h.misses.estimate(victim),
            _ => true,
        };
        if admitted {
            h.ghost.forget(hash);
        }
        admitted
    }
}

/// What to do with a live entry at the front of a FIFO.
enum Verdict {
    /// Nothing left to serve (expired, or invalidated by tag): evict it.
    Expired,
    /// Not hit: evict it to make room.
    Evict,
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

    /// Whether eviction takes from the small FIFO: it holds its share of the entries (2%) or,
    /// under a byte bound, of the bytes, or the main FIFO is empty.
    fn small_full(&self, w: &Writer<K, V>) -> bool {
        w.small.len() >= self.small_capacity()
            || self.policy.max_bytes.is_some_and(|max| w.small_bytes >= max / 50)
            || w.main.is_empty()
    }

    fn over_bound(&self, w: &Writer<K, V>) -> bool {
        w.live > self.policy.capacity || self.policy.max_bytes.is_some_and(|max| w.bytes > max)
    }

    /// The entry stored for `key`, read in place (no lock, no copy).
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(super) fn peek_entry<R>(&self, key: &K, read: impl FnOnce(&K, &Entry<V>) -> R) -> Option<R> {
        let guard = scc::Guard::new();
        let found = self.entry(key, &guard).map(|(stored, entry)| read(stored, entry));
        drop(guard);
        found
    }

    /// The key and entry stored for `key`, valid while `guard` lives.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(super) fn entry<'g>(&'g self, key: &K, guard: &'g scc::Guard) -> Option<&'g (K, Entry<V>)> {
        // SAFETY: found in the index within `guard`: the slot is emptied only after every
        // guard that could see its id has ended.
        let slot = self.index.find(self.index.hash(key), guard).and_then(|id| unsafe { self.slab.get(id) });
        // Another key with the same hash is not this one's entry.
        slot.filter(|(stored, _)| stored == key)
    }

    /// A live slot's entry. The caller holds the writer lock and has not retired `id`.
    fn live(&self, id: u32) -> Option<&(K, Entry<V>)> {
        // SAFETY: live slots are emptied only after the writer retires them.
        unsafe { self.slab.get(id) }
    }

    /// Stores `entry` under `key`, replacing any entry there, then evicts down to capacity.
    /// A replaced entry keeps its place (small or main FIFO) and its frequency. The caller
    /// holds the writer lock.
    pub(super) fn write(&self, w: &mut Writer<K, V>, key: K, entry: Entry<V>) {
        if self.policy.capacity == 0 {
            return;
        }
        // Weighed first: a weigher that panics leaves the writer as it was.
        let weight = self.weight(&key, &entry.value);
        let hash = self.index.hash(&key);
        let Some(id) = w.claim() else { return };
        w.next_generation = w.next_generation.wrapping_add(1).max(EMPTY + 1);
        let generation = w.next_generation;
        // The entry this one replaces: this key's, keeping its place and frequency, or (two
        // keys with one hash) another key's, which leaves.
        let replaced = self.indexed(hash);
        let mut kept = None;
        if let Some(old) = replaced {
            if let Some((old_key, old_entry)) = self.live(old) {
                self.unweigh(w, old_key, old_entry);
                if *old_key == key {
                    kept = Some((old_entry.meta.frequency(), old_entry.meta.in_main()));
                }
            }
            if kept.is_none() {
                w.live -= 1;
                w.evictions.size += 1;
            }
            w.retire(old);
        }
        let in_main = match kept {
            Some((frequency, in_main)) => {
                entry.meta.set_eviction(frequency, in_main);
                in_main
            }
            None => {
                let victim = |victim| self.live(victim).map(|(k, _)| self.index.hash(k));
                let in_main = w.starts_in_main(hash, self.main_capacity(), victim);
                entry.meta.set_eviction(0, in_main);
                w.live += 1;
                in_main
            }
        };
        // SAFETY: `id` is empty (claimed), and the index shows it only after this.
        unsafe { self.slab.fill(id, key, entry) };
        self.index.insert(hash, id);
        w.generations[id as usize] = generation;
        w.bytes += weight;
        if !in_main {
            w.small_bytes += weight;
        }
        let fifo = if in_main { &mut w.main } else { &mut w.small };
        fifo.push_back((id, generation));
        self.evict(w);
        self.finish(w, replaced.is_some());
    }

    /// The slot id indexed under `hash`. The caller holds the writer lock, so the id stays.
    fn indexed(&self, hash: u64) -> Option<u32> {
        self.index.find(hash, &scc::Guard::new())
    }

    /// Takes a leaving entry's weight off the writer's totals.
    fn unweigh(&self, w: &mut Writer<K, V>, key: &K, entry: &Entry<V>) {
        let weight = self.weight(key, &entry.value);
        w.bytes = w.bytes.saturating_sub(weight);
        if !entry.meta.in_main() {
            w.small_bytes = w.small_bytes.saturating_sub(weight);
        }
    }

    /// Removes `key`'s entry; true if there was one. The caller holds the writer lock.
    pub(super) fn remove(&self, w: &mut Writer<K, V>, key: &K) -> bool {
        let hash = self.index.hash(key);
        let Some(id) = self.indexed(hash) else { return false };
        let found = self.live(id);
        if found.is_some_and(|(stored, _)| stored != key) {
            return false;
        }
        self.index.remove(hash, id);
        if let Some((key, entry)) = found {
            self.unweigh(w, key, entry);
        }
        w.live -= 1;
        w.retire(id);
        self.finish(w, true);
        true
    }

    /// Removes every entry. The caller holds the writer lock.
    pub(super) fn clear(&self, w: &mut Writer<K, V>) {
        self.index.clear().into_iter().for_each(|id| w.retire(id));
        w.small.clear();
        w.main.clear();
        w.live = 0;
        w.bytes = 0;
        w.small_bytes = 0;
        self.finish(w, true);
    }

    /// Ends a write: the slots that left the index are emptied once no reader can see them, in
    /// batches for evictions (so that a miss does not pay for a deferred closure each time),
    /// at once (`now`) for replaced and removed values, which the caller expects gone.
    fn finish(&self, w: &mut Writer<K, V>, now: bool) {
        if w.retired.len() >= RETIRE_BATCH || (now && !w.retired.is_empty()) {
            self.slab.retire(std::mem::take(&mut w.retired));
        }
    }

    fn evict(&self, w: &mut Writer<K, V>) {
        if !self.over_bound(w) {
            return;
        }
        let capacity = self.policy.capacity;
        if w.history.is_none() {
            w.history = Some(History { ghost: Ghost::new(capacity), misses: Sketch::new(capacity) });
        }
        let now = clock::now_millis_fast();
        // Every live entry has exactly one FIFO item with its generation, and an item goes
        // around the main FIFO at most three times (its frequency is at most 3), so this
        // bound on turns is only a second guard.
        let mut turns = 4 * (w.small.len() + w.main.len()) + 1;
        while self.over_bound(w) && turns > 0 {
            turns -= 1;
            let from_small = self.small_full(w);
            let fifo = if from_small { &mut w.small } else { &mut w.main };
            let Some(item) = fifo.pop_front() else { break };
            let Some((key, entry)) = w.current(&item).then(|| self.live(item.0)).flatten() else { continue };
            let weight = self.weight(key, &entry.value);
            if from_small {
                // Whatever its fate, it leaves the small FIFO.
                w.small_bytes = w.small_bytes.saturating_sub(weight);
            }
            let expired = match self.verdict(entry, from_small, now) {
                Verdict::Keep => {
                    w.main.push_back(item);
                    continue;
                }
                Verdict::Expired => true,
                Verdict::Evict => false,
            };
            let hash = self.index.hash(key);
            if from_small
                && !expired
                && let Some(h) = &mut w.history
            {
                h.ghost.remember(hash);
            }
            self.index.remove(hash, item.0);
            w.live -= 1;
            w.bytes = w.bytes.saturating_sub(weight);
            w.retire(item.0);
            *if expired { &mut w.evictions.expired } else { &mut w.evictions.size } += 1;
        }
        if w.small.len() + w.main.len() > 2 * w.live + 64 {
            w.small.retain(|item| w.generations.get(item.0 as usize) == Some(&item.1));
            w.main.retain(|item| w.generations.get(item.0 as usize) == Some(&item.1));
        }
    }

    /// The fate of a live entry at the front of a FIFO. An entry leaving the small FIFO after
    /// a hit enters the main FIFO with its frequency cleared; one in the main FIFO pays one
    /// unit of frequency for each pass it survives.
    fn verdict(&self, entry: &Entry<V>, from_small: bool, now: u64) -> Verdict {
        let meta = &entry.meta;
        if meta.keep_until() <= now || meta.tags.found_invalid() {
            return Verdict::Expired;
        }
        let frequency = meta.frequency();
        if frequency == 0 {
            return Verdict::Evict;
        }
        meta.set_eviction(if from_small { 0 } else { frequency - 1 }, true);
        Verdict::Keep
    }
}

#[cfg(test)]
mod tests;
