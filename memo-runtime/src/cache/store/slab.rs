//! The slots that hold the L1's entries (key, value and metadata) side by side in chunks that
//! never move, each named by a 32-bit id: the map stores only the id, so a key's entry takes
//! its own size once, not once per empty place in the map's table.
//!
//! Reads take no lock. A reader finds an id in the map and reads its slot within the map's read
//! guard (epoch-based reclamation, `sdd`, which the map uses itself). The writer (under the
//! cache's writer lock) fills a free slot before the map shows its id, and empties a slot only
//! in a closure deferred until every guard that existed when the id left the map has ended, so
//! no reader can be reading it; the emptied id then goes back to the writer for reuse.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use crate::entry::Entry;

/// Slots in the first chunk; chunk `c > 0` holds `FIRST << (c - 1)`, so that every 32-bit id
/// has a place in [`CHUNKS`] chunks.
const FIRST: u32 = 64;
const CHUNKS: usize = 27;

type Slot<K, V> = UnsafeCell<MaybeUninit<(K, Entry<V>)>>;

/// A chunk of slots. Dropping it drops no entry: the cache empties its live slots as it drops
/// (see [`Slab::empty`]), and retired ones are emptied by their deferred closure.
struct Chunk<K, V> {
    slots: Box<[Slot<K, V>]>,
}

/// The entries' slots (see the module's docs).
pub(crate) struct Slab<K, V> {
    chunks: [OnceLock<Chunk<K, V>>; CHUNKS],
    /// Ids of slots emptied since the writer last took them, and whether there are any (read
    /// without the lock).
    free: Mutex<Vec<u32>>,
    any_free: AtomicBool,
}

// SAFETY: a slot is written only by the writer (one at a time, under the cache's writer lock)
// while no reader can reach it, and read by many through shared references otherwise: the
// contents cross threads, hence `Send + Sync` contents.
unsafe impl<K: Send + Sync, V: Send + Sync> Sync for Slab<K, V> {}

impl<K, V> std::fmt::Debug for Slab<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slab").finish_non_exhaustive()
    }
}

/// The chunk and the place in it of slot `id`.
#[cfg_attr(not(debug_assertions), inline(always))]
fn locate(id: u32) -> (usize, usize) {
    if id < FIRST {
        (0, id as usize)
    } else {
        let chunk = id.ilog2() - FIRST.ilog2() + 1;
        (chunk as usize, (id - (FIRST << (chunk - 1))) as usize)
    }
}

fn chunk_len(chunk: usize) -> usize {
    if chunk == 0 { FIRST as usize } else { (FIRST as usize) << (chunk - 1) }
}

impl<K, V> Default for Slab<K, V> {
    fn default() -> Self {
        Self {
            chunks: std::array::from_fn(|_| OnceLock::new()),
            free: Mutex::new(Vec::new()),
            any_free: AtomicBool::new(false),
        }
    }
}

impl<K, V> Slab<K, V> {
    /// Drops slot `id`'s entry.
    ///
    /// # Safety
    ///
    /// Nothing reads slot `id` or writes it at the same time or later (until it is filled
    /// again), and it was filled.
    pub(crate) unsafe fn empty(&self, id: u32) {
        let (chunk, at) = locate(id);
        let Some(chunk) = self.chunks[chunk].get() else { return };
        // SAFETY: the caller's promise.
        unsafe { (*chunk.slots[at].get()).assume_init_drop() };
    }
}

impl<K: Send + Sync + 'static, V: Send + Sync + 'static> Slab<K, V> {
    /// Slot `id`'s entry.
    ///
    /// # Safety
    ///
    /// `id` was filled and is not emptied while the reference lives: the caller found it in
    /// the map within the map's read guard, or is the writer and has not retired it.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) unsafe fn get(&self, id: u32) -> Option<&(K, Entry<V>)> {
        let (chunk, at) = locate(id);
        let slot = self.chunks.get(chunk)?.get()?.slots.get(at)?;
        // SAFETY: filled (the caller's promise), and written only while no reader can reach it.
        Some(unsafe { (*slot.get()).assume_init_ref() })
    }

    /// Puts an entry in slot `id`.
    ///
    /// # Safety
    ///
    /// Only the writer calls this, and `id` is empty: new, or given back by [`take_free`]
    /// (Self::take_free).
    pub(crate) unsafe fn fill(&self, id: u32, key: K, entry: Entry<V>) {
        let (chunk, at) = locate(id);
        let chunk = self.chunks[chunk].get_or_init(|| {
            let len = chunk_len(chunk);
            Chunk { slots: (0..len).map(|_| UnsafeCell::new(MaybeUninit::uninit())).collect() }
        });
        // SAFETY: empty, so no reader can reach it, and only the writer writes.
        unsafe { (*chunk.slots[at].get()).write((key, entry)) };
    }

    /// Empties the slots `ids`, which have left the map, once no reader can be reading them,
    /// and then hands them back to the writer.
    pub(crate) fn retire(self: &Arc<Self>, ids: Vec<u32>) {
        let slab = Arc::clone(self);
        scc::Guard::new().defer_execute(move || {
            for &id in &ids {
                // SAFETY: every guard that could have seen `id` in the map has ended, and the
                // writer does not reuse it before it is handed back below.
                unsafe { slab.empty(id) };
            }
            slab.free.lock().unwrap_or_else(PoisonError::into_inner).extend(ids);
            slab.any_free.store(true, Ordering::Release);
        });
    }

    /// Ids emptied since the last call, for reuse.
    pub(crate) fn take_free(&self) -> Vec<u32> {
        if !self.any_free.load(Ordering::Acquire) {
            return Vec::new();
        }
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        self.any_free.store(false, Ordering::Relaxed);
        std::mem::take(&mut *free)
    }
}

#[cfg(test)]
mod tests {
    use super::{CHUNKS, chunk_len, locate};

    #[test]
    fn every_32_bit_id_has_one_place() {
        for id in [0, 1, 63, 64, 65, 127, 128, 1_000_000, u32::MAX - 1, u32::MAX] {
            let (chunk, at) = locate(id);
            assert!(chunk < CHUNKS && at < chunk_len(chunk), "{id} -> ({chunk}, {at})");
        }
        assert_eq!(locate(63), (0, 63));
        assert_eq!(locate(64), (1, 0));
        assert_eq!(locate(128), (2, 0));
        let total: usize = (0..CHUNKS).map(chunk_len).sum();
        assert_eq!(total as u64, 1 << 32);
    }
}
