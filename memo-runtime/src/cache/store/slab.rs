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

/// The first chunk holds `2^shift` slots, the cache's capacity rounded up to a power of two
/// between these bounds; chunk `c > 0` holds `2^(shift + c - 1)`, so that every 32-bit id has
/// a place in [`CHUNKS`] chunks. A read of the first chunk's slot needs no look-up that waits
/// for the id (the chunk is known before it), so a cache within its first chunk (up to 65,536
/// entries) finds a slot one dependent read sooner. The first chunk is made when the first
/// entry is stored, uninitialized: its pages take memory as slots are first filled.
const MIN_SHIFT: u32 = 6;
const MAX_SHIFT: u32 = 16;
const CHUNKS: usize = (u32::BITS - MIN_SHIFT + 1) as usize;

type Slot<K, V> = UnsafeCell<MaybeUninit<(K, Entry<V>)>>;

/// A chunk of slots. Dropping it drops no entry: the cache empties its live slots as it drops
/// (see [`Slab::empty`]), and retired ones are emptied by their deferred closure.
struct Chunk<K, V> {
    slots: Box<[Slot<K, V>]>,
}

/// The entries' slots (see the module's docs).
pub(crate) struct Slab<K, V> {
    chunks: [OnceLock<Chunk<K, V>>; CHUNKS],
    /// The first chunk's length, as a power of two.
    shift: u32,
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

/// The chunk and the place in it of slot `id`, when the first chunk holds `2^shift` slots.
#[cfg_attr(not(debug_assertions), inline(always))]
fn locate(shift: u32, id: u32) -> (usize, usize) {
    if id >> shift == 0 {
        (0, id as usize)
    } else {
        let chunk = id.ilog2() - shift + 1;
        (chunk as usize, (id - (1 << (shift + chunk - 1))) as usize)
    }
}

fn chunk_len(shift: u32, chunk: usize) -> usize {
    if chunk == 0 { 1 << shift } else { 1 << (shift as usize + chunk - 1) }
}

impl<K, V> Slab<K, V> {
    /// Slots for a cache of `capacity` entries.
    pub(crate) fn new(capacity: usize) -> Self {
        let first = capacity.checked_next_power_of_two().map_or(MAX_SHIFT, usize::ilog2);
        Self {
            chunks: std::array::from_fn(|_| OnceLock::new()),
            shift: first.clamp(MIN_SHIFT, MAX_SHIFT),
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
        let (chunk, at) = locate(self.shift, id);
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
        let (chunk, at) = locate(self.shift, id);
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
        let (chunk, at) = locate(self.shift, id);
        let chunk = self.chunks[chunk].get_or_init(|| {
            let slots = Box::new_uninit_slice(chunk_len(self.shift, chunk));
            // SAFETY: a slot is an `UnsafeCell<MaybeUninit<_>>`, valid whatever its bytes;
            // allocated without being written, so that its pages take no memory until used.
            Chunk { slots: unsafe { slots.assume_init() } }
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
    use super::{CHUNKS, MAX_SHIFT, MIN_SHIFT, Slab, chunk_len, locate};

    #[test]
    fn every_32_bit_id_has_one_place() {
        for shift in [MIN_SHIFT, 10, MAX_SHIFT] {
            let first = 1 << shift;
            for id in [0, 1, first - 1, first, first + 1, 2 * first - 1, 2 * first, 1_000_000, u32::MAX - 1, u32::MAX] {
                let (chunk, at) = locate(shift, id);
                assert!(chunk < CHUNKS && at < chunk_len(shift, chunk), "{shift}: {id} -> ({chunk}, {at})");
            }
            assert_eq!(locate(shift, first - 1), (0, first as usize - 1));
            assert_eq!(locate(shift, first), (1, 0));
            assert_eq!(locate(shift, 2 * first), (2, 0));
            let total: usize = (0..CHUNKS).map(|chunk| chunk_len(shift, chunk)).take_while(|&len| len <= 1 << 31).sum();
            assert_eq!(total as u64, 1 << 32, "{shift}");
        }
    }

    #[test]
    fn the_first_chunk_follows_the_capacity() {
        let shift = |capacity| Slab::<u8, u8>::new(capacity).shift;
        assert_eq!(shift(0), MIN_SHIFT);
        assert_eq!(shift(10_000), 14);
        assert_eq!(shift(16_384), 14);
        assert_eq!(shift(usize::MAX), MAX_SHIFT);
    }
}
