//! The L1's index: each key's 64-bit hash to the id of the slot that holds its entry, in a
//! lock-free `scc::HashIndex`.
//!
//! The index holds hashes, not keys, so it is one type for every cache: compiled once in this
//! crate whatever the key and value types, and a key is stored once, in its slot. Two keys
//! with one hash (with a random 64-bit hash, about one pair in 10^10 for a million keys) share
//! a place: the slot holds the key and a read compares it, so the other key misses, and
//! storing one replaces the other. A miss more, never a wrong answer.
//!
//! Reads take a [`Guard`] and use the id within it (see the `slab` module). Only the writer
//! (under the cache's writer lock) changes the index.

use std::hash::{BuildHasher, Hash};

use scc::hash_index::Entry;
use scc::{Guard, HashIndex};

/// Hashes of keys to slot ids.
#[derive(Debug)]
pub(crate) struct Index {
    ids: HashIndex<u64, u32, Given>,
    hasher: foldhash::fast::RandomState,
}

impl Default for Index {
    fn default() -> Self {
        Self { ids: HashIndex::with_hasher(Given), hasher: foldhash::fast::RandomState::default() }
    }
}

impl Index {
    /// The hash `key` is indexed by.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn hash<K: Hash>(&self, key: &K) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The slot id indexed under `hash`, valid while `guard` lives.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn find(&self, hash: u64, guard: &Guard) -> Option<u32> {
        self.ids.peek(&hash, guard).copied()
    }

    /// Indexes slot `id` under `hash`, returning the id it replaces. The writer only.
    pub(crate) fn insert(&self, hash: u64, id: u32) -> Option<u32> {
        match self.ids.entry_sync(hash) {
            Entry::Occupied(mut occupied) => {
                let old = *occupied.get();
                occupied.update(id);
                Some(old)
            }
            Entry::Vacant(vacant) => {
                vacant.insert_entry(id);
                None
            }
        }
    }

    /// Removes `hash` if it names slot `id`; true if it did. The writer only.
    pub(crate) fn remove(&self, hash: u64, id: u32) -> bool {
        self.ids.remove_if_sync(&hash, |&indexed| indexed == id)
    }

    /// Removes every hash, returning the ids they named. The writer only.
    pub(crate) fn clear(&self) -> Vec<u32> {
        let mut ids = Vec::new();
        self.ids.retain_sync(|_, &id| {
            ids.push(id);
            false
        });
        ids
    }
}

/// The index's keys are hashes already: they are used as they are.
#[derive(Debug, Clone, Copy, Default)]
struct Given;

impl BuildHasher for Given {
    type Hasher = GivenHasher;

    fn build_hasher(&self) -> GivenHasher {
        GivenHasher(0)
    }
}

#[derive(Debug)]
struct GivenHasher(u64);

impl std::hash::Hasher for GivenHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not reached: a `u64` key is written with `write_u64`. Folded in all the same.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }
}
