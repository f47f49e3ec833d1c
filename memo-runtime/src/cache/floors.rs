//! Invalidation floors: what entries from a tier beneath the L1 must postdate.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::clock;
use crate::outcome::CacheKey;

/// Local invalidations that entries from a tier beneath the L1 (the Redis L2) must postdate:
/// per key (bounded), and for the whole cache. An entry read from the tier that was created at
/// or before one of them is a miss, so an invalidation in this process is never undone by an
/// older copy.
#[derive(Debug)]
pub(crate) struct Floors<K> {
    all: AtomicU64,
    keys: Mutex<HashMap<K, u64, super::Hasher>>,
    /// The latest `invalidate_all` of this cache recorded in the tier, and when it was read.
    #[cfg_attr(not(feature = "redis"), allow(dead_code, reason = "the Redis L2 is the one tier"))]
    pub(crate) cleared: AtomicU64,
    #[cfg_attr(not(feature = "redis"), allow(dead_code, reason = "the Redis L2 is the one tier"))]
    pub(crate) cleared_checked: AtomicU64,
}

impl<K> Default for Floors<K> {
    fn default() -> Self {
        Self {
            all: AtomicU64::new(0),
            keys: Mutex::new(HashMap::with_hasher(super::Hasher::default())),
            cleared: AtomicU64::new(0),
            cleared_checked: AtomicU64::new(0),
        }
    }
}

/// Per-key floors kept before they are folded into the cache-wide one.
const MAX_KEY_FLOORS: usize = 10_000;

impl<K: CacheKey> Floors<K> {
    /// `key` was invalidated here now. Without a tier attached (none may ever read these
    /// floors), no per-key record is kept: the cache-wide floor rises instead, which is
    /// stricter and costs one atomic.
    pub(crate) fn key(&self, key: &K, tier_attached: bool) {
        if tier_attached {
            self.key_at(key, clock::now_millis());
        } else {
            self.all.fetch_max(clock::now_millis(), Ordering::AcqRel);
        }
    }

    /// Copies of `key` made at or before `at` are stale.
    pub(crate) fn key_at(&self, key: &K, at: u64) {
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        if keys.len() >= MAX_KEY_FLOORS {
            // Folded into one floor that covers every key's, however old `at` is (a replayed
            // invalidation may be).
            let highest = keys.values().copied().max().unwrap_or(0).max(at);
            keys.clear();
            self.all.fetch_max(highest, Ordering::AcqRel);
        } else {
            let floor = keys.entry(key.clone()).or_insert(0);
            *floor = (*floor).max(at);
        }
    }

    pub(crate) fn all(&self) {
        self.all.fetch_max(clock::now_millis(), Ordering::AcqRel);
        self.keys.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    pub(crate) fn admits(&self, key: &K, created_at: u64) -> bool {
        created_at > self.all.load(Ordering::Acquire)
            && self.keys.lock().unwrap_or_else(PoisonError::into_inner).get(key).is_none_or(|at| created_at > *at)
    }
}
