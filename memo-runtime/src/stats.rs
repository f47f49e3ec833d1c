//! What each cache did: hits, misses, loads and how long the loads took.
//!
//! Every cached function has a `stats()` on its handle, and [`all`] lists every cache in the
//! process.
//!
//! ```
//! use memo_runtime::cached;
//!
//! #[cached(ttl = 60)]
//! fn square(x: u64) -> u64 {
//!     x * x
//! }
//!
//! fn main() {
//!     square(3);
//!     square(3);
//!     let stats = square::stats();
//!     assert_eq!((stats.hits, stats.misses, stats.loads), (1, 1, 1));
//!     assert_eq!(stats.hit_ratio(), 0.5);
//! }
//! ```

mod counter;
mod histogram;

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

pub(crate) use counter::{CallCounter, Counter};
pub(crate) use histogram::LoadHistogram;

/// A snapshot of one cache's counters.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct CacheStats {
    /// The cache's name (by default the function's module path and name).
    pub name: String,
    /// Calls answered from the in-process cache (L1), negative entries and stale values
    /// included.
    pub hits: u64,
    /// Calls answered from the shared L2 (Redis) after an L1 miss (`distributed` caches).
    pub l2_hits: u64,
    /// Calls answered from the current request's memo (`#[request_memo]`, or `#[cached]`
    /// with `request_consistent`), before any other layer was asked.
    pub request_hits: u64,
    /// Hits on a negative entry (`None`, `Ok(None)`).
    pub negative_hits: u64,
    /// Calls that no layer answered: they loaded or waited for a load.
    pub misses: u64,
    /// Misses answered by another call's load of the same key instead of loading: they
    /// waited for it, or it stored its value as they looked.
    pub coalesced: u64,
    /// Runs of the function body.
    pub loads: u64,
    /// Loads that returned an error (never stored).
    pub load_errors: u64,
    /// Entries removed by eviction, by cause.
    pub evictions: Evictions,
    /// Invalidations, by cause.
    pub invalidations: Invalidations,
    /// Stale values served while one reload ran (stale-while-revalidate).
    pub stale_served: u64,
    /// Reloads started before expiry by early refresh (XFetch).
    pub early_refreshes: u64,
    /// Failed or timed-out loads answered with the last good value (stale_if_error).
    pub stale_if_error_served: u64,
    /// Calls that stopped waiting for a load at the timeout.
    pub timeouts: u64,
    /// Entries held now (fresh or expired, not yet evicted).
    pub entries: u64,
    /// Load durations.
    pub load_time: LoadTimes,
}

impl CacheStats {
    /// Calls answered by any layer (request memo, L1, L2) divided by all calls; `0.0` before
    /// the first call.
    #[must_use]
    pub fn hit_ratio(&self) -> f64 {
        let answered = self.hits + self.l2_hits + self.request_hits;
        let calls = answered + self.misses;
        if calls == 0 { 0.0 } else { answered as f64 / calls as f64 }
    }
}

/// Entries one cache removed on its own, by cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Evictions {
    /// Live entries removed to stay within capacity.
    pub size: u64,
    /// Entries with nothing left to serve (expired past any stale or stale-if-error window, or
    /// invalidated by tag) that eviction found and removed first.
    pub expired: u64,
}

impl Evictions {
    /// Every eviction, whatever its cause.
    ///
    /// ```
    /// let stats = memo_runtime::CacheStats::default();
    /// assert_eq!(stats.evictions.total(), 0);
    /// ```
    #[must_use]
    pub fn total(&self) -> u64 {
        self.size + self.expired
    }
}

/// Invalidations of one cache, by cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Invalidations {
    /// Calls of `invalidate` (one key).
    pub keys: u64,
    /// Calls of `invalidate_all` (the whole function).
    pub all: u64,
    /// Entries found invalidated by [`invalidate_tag`](crate::invalidate_tag), counted once
    /// each when next read.
    pub tags: u64,
}

impl Invalidations {
    /// Every invalidation, whatever its cause.
    ///
    /// ```
    /// let stats = memo_runtime::CacheStats::default();
    /// assert_eq!(stats.invalidations.total(), 0);
    /// ```
    #[must_use]
    pub fn total(&self) -> u64 {
        self.keys + self.all + self.tags
    }
}

/// Percentiles of load durations, from a log-linear histogram (within 1/8 of the true value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct LoadTimes {
    /// Median load time.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Longest load seen.
    pub max: Duration,
}

/// A cache that reports statistics; every cache built by the macros registers itself.
pub(crate) trait StatsSource: Send + Sync {
    fn stats(&self) -> CacheStats;
}

static REGISTRY: Mutex<Vec<&'static dyn StatsSource>> = Mutex::new(Vec::new());

pub(crate) fn register(source: &'static dyn StatsSource) {
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner).push(source);
}

/// Statistics of every cache created by `#[cached]` so far in this process, in creation
/// order. A cache is created on the first call of its function.
///
/// ```
/// # use memo_runtime::cached;
/// #[cached]
/// fn triple(x: u64) -> u64 { x * 3 }
///
/// fn main() {
///     triple(1);
///     let all = memo_runtime::stats::all();
///     assert!(all.iter().any(|s| s.name.ends_with("triple") && s.loads == 1));
/// }
/// ```
#[must_use]
pub fn all() -> Vec<CacheStats> {
    let sources = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner).clone();
    sources.iter().map(|s| s.stats()).collect()
}
