//! What an entry weighs against a cache's bound in bytes.

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
