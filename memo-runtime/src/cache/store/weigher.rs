//! What an entry weighs against a cache's bound in bytes.

use super::super::Cache;
use crate::outcome::{CacheKey, CacheValue};

/// What an entry weighs against the byte bound ([`CacheBuilder::max_bytes`]).
///
/// [`CacheBuilder::max_bytes`]: crate::CacheBuilder::max_bytes
pub(crate) enum Weigher<K, V> {
    /// The key's and the value's inline size.
    Inline,
    /// A weigher of key and value ([`Cache::with_weigher`](crate::Cache::with_weigher)).
    Entry(fn(&K, &V) -> usize),
    /// A weigher of the value (`#[cached(weigher = ...)]`).
    Value(fn(&V) -> usize),
}

impl<K, V> Weigher<K, V> {
    pub(super) fn weigh(&self, key: &K, value: &V) -> u64 {
        let bytes = match self {
            Self::Inline => size_of::<K>() + size_of::<V>(),
            Self::Entry(weigh) => weigh(key, value),
            Self::Value(weigh) => weigh(value),
        };
        bytes as u64
    }
}

impl<K: CacheKey, V: CacheValue> Cache<K, V> {
    /// What an entry weighs, counted only under a byte bound.
    pub(super) fn weight(&self, key: &K, value: &V) -> u64 {
        if self.policy.max_bytes.is_some() { self.weigher.weigh(key, value) } else { 0 }
    }

    /// Weighs entries with `weigher` (key, value) against the byte bound
    /// ([`CacheBuilder::max_bytes`](crate::CacheBuilder::max_bytes)). It should give the same
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
}
