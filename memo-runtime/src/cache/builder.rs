//! Configuration of a [`Cache`](super::Cache).

use std::time::Duration;

use super::{Cache, Policy};
use crate::outcome::{CacheKey, CacheValue};

/// The default bound on entries when none is given.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// Builds a [`Cache`]; see [`Cache::builder`].
///
/// ```
/// use std::time::Duration;
/// use memo_runtime::Cache;
///
/// let cache: Cache<u64, Option<String>> = Cache::builder()
///     .name("users")
///     .time_to_live(Duration::from_secs(300))
///     .jitter(Duration::from_secs(60))
///     .negative_time_to_live(Duration::from_secs(10))
///     .max_capacity(50_000)
///     .build();
/// assert_eq!(cache.name(), "users");
/// ```
#[must_use]
#[derive(Debug, Clone)]
pub struct CacheBuilder {
    policy: Policy,
}

impl Default for CacheBuilder {
    fn default() -> Self {
        Self {
            policy: Policy {
                name: "memo".to_owned(),
                version: 0,
                ttl_ms: None,
                jitter_ms: 0,
                negative_ttl_ms: None,
                capacity: DEFAULT_CAPACITY,
            },
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl CacheBuilder {
    /// The cache's name, shown in statistics (the macros use `module::function`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.policy.name = name.into();
        self
    }

    /// The value's version; bump it when the value's shape changes.
    pub fn version(mut self, version: u32) -> Self {
        self.policy.version = version;
        self
    }

    /// How long a value stays fresh. Without it, values stay until evicted or invalidated.
    pub fn time_to_live(mut self, ttl: Duration) -> Self {
        self.policy.ttl_ms = Some(millis(ttl));
        self
    }

    /// Adds a uniform random extra in `[0, jitter]` to each entry's time to live, so keys
    /// loaded together do not expire together.
    pub fn jitter(mut self, jitter: Duration) -> Self {
        self.policy.jitter_ms = millis(jitter);
        self
    }

    /// How long negative values (`None`, `Ok(None)`) are kept. Without it they are not kept.
    pub fn negative_time_to_live(mut self, ttl: Duration) -> Self {
        self.policy.negative_ttl_ms = Some(millis(ttl));
        self
    }

    /// The most entries kept; beyond it CLOCK eviction removes the least recently used ones.
    /// Defaults to [`DEFAULT_CAPACITY`]. `0` keeps nothing (every call loads).
    pub fn max_capacity(mut self, capacity: usize) -> Self {
        self.policy.capacity = capacity;
        self
    }

    /// Builds the cache. Starts the coarse clock's thread on first use in the process.
    #[must_use]
    pub fn build<K: CacheKey, V: CacheValue>(self) -> Cache<K, V> {
        Cache::with_policy(self.policy)
    }
}
