//! The tier beneath the L1 (the Redis L2), as the core knows it: one trait.

use std::fmt;

use super::Cache;
use super::policy::Accept;
use crate::entry::Entry;

/// A tier beneath the L1 (the Redis L2), attached when the cache first goes through it: it
/// hears of the cache's changes and passes them on (writes, invalidations to other
/// instances). The core knows it only through this trait.
pub(crate) trait Tier<K, V>: Send + Sync + fmt::Debug {
    /// A load stored a new value for `key` here; `hold` is what the tier held on the key
    /// while it ran (see [`read`](Self::read)).
    fn stored(&self, cache: &Cache<K, V>, key: &K, hold: Option<Hold>);
    /// `key` was put (`put`) or invalidated here.
    fn changed(&self, cache: &Cache<K, V>, key: &K, put: bool);
    /// Every entry was invalidated here.
    fn cleared(&self, cache: &Cache<K, V>);
    /// Waits until the tier can be read consistently (once, at the start).
    fn settle(&self) -> Pending<'_, ()>;
    /// The tier's entry for `key`, fresh or not, if it holds a usable one; else, when the tier
    /// keeps one load per key across processes, its hold on the key for this process's load
    /// (having waited for another process's load first, if one ran).
    fn read<'a>(&'a self, cache: &'a Cache<K, V>, key: &'a K, accept: Accept) -> Pending<'a, TierRead<V>>;
    /// The tier's entries for `keys`, in order, fresh or not, read together (a batch's misses;
    /// no hold on the keys is taken).
    fn read_many<'a>(&'a self, cache: &'a Cache<K, V>, keys: &'a [K]) -> Pending<'a, Vec<Option<Entry<V>>>>;
}

/// What the tier beneath had for a key.
pub(crate) struct TierRead<V> {
    pub(crate) entry: Option<Entry<V>>,
    pub(crate) hold: Option<Hold>,
}

/// What the tier beneath holds on a key while this process loads it (a lock across the
/// instances): handed back when the value is stored; dropped, it lets go of the key.
pub(crate) type Hold = Box<dyn std::any::Any + Send + Sync>;

/// A tier's answer, to await.
pub(crate) type Pending<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;
