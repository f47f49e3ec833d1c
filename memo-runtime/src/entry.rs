//! What the cache keeps for a key: the value and the metadata that travels with it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Metadata stored with every value.
///
/// Times are coarse-clock milliseconds since the Unix epoch
/// ([`clock::now_millis`](crate::clock::now_millis)), so they mean the same in every process.
#[derive(Debug)]
pub(crate) struct Meta {
    /// When the value was loaded (or put).
    pub(crate) created_at: u64,
    /// Until when a hit serves it as fresh.
    pub(crate) fresh_until: u64,
    /// Until when it may still be served stale; equal to `fresh_until` when no stale window
    /// applies. Past this the entry is garbage and the first to be evicted.
    pub(crate) stale_until: u64,
    /// How long the load took, in microseconds (for early refresh).
    pub(crate) load_micros: u32,
    /// `None` / `Ok(None)`: kept for the negative time to live.
    pub(crate) negative: bool,
    /// Tags the entry carries, for invalidation by tag.
    pub(crate) tags: Arc<[Arc<str>]>,
    /// Distinguishes this entry from earlier ones under the same key (eviction bookkeeping).
    pub(crate) generation: u64,
    /// CLOCK reference bit: set by a hit when clear, cleared by the eviction hand.
    pub(crate) referenced: AtomicBool,
}

impl Meta {
    /// Marks the entry as recently used, writing only when the bit is not already set so that
    /// hits on a hot entry do not bounce its cache line between cores.
    #[inline(always)]
    pub(crate) fn touch(&self) {
        if !self.referenced.load(Ordering::Relaxed) {
            self.referenced.store(true, Ordering::Relaxed);
        }
    }
}

/// A stored value with its metadata.
#[derive(Debug)]
pub(crate) struct Entry<V> {
    pub(crate) value: V,
    pub(crate) meta: Meta,
}

/// What the cache knows about a stored entry, from [`Cache::entry_info`](crate::Cache::entry_info).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EntryInfo {
    /// When the value was loaded or put, in milliseconds since the Unix epoch.
    pub created_at_millis: u64,
    /// Until when it is served as fresh, in milliseconds since the Unix epoch
    /// (`u64::MAX`: no time to live).
    pub fresh_until_millis: u64,
    /// Until when it may be kept at all, in milliseconds since the Unix epoch.
    pub stale_until_millis: u64,
    /// How long the load that produced it took (zero for a put value).
    pub load_time: Duration,
    /// Whether it is a negative value (`None`, `Ok(None)`).
    pub negative: bool,
    /// The tags it carries.
    pub tags: Vec<String>,
}

impl Meta {
    pub(crate) fn info(&self) -> EntryInfo {
        EntryInfo {
            created_at_millis: self.created_at,
            fresh_until_millis: self.fresh_until,
            stale_until_millis: self.stale_until,
            load_time: Duration::from_micros(u64::from(self.load_micros)),
            negative: self.negative,
            tags: self.tags.iter().map(|t| t.to_string()).collect(),
        }
    }
}
