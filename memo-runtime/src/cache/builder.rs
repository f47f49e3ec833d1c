//! Configuration of a [`Cache`](super::Cache).

use std::time::Duration;

use super::Cache;
use super::policy::Policy;
use crate::outcome::{CacheKey, CacheValue};

/// The default bound on entries when none is given.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// The default pause between tries of a failing load answered by the stale-if-error value.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Builds a [`Cache`]; see [`Cache::builder`].
///
/// ```
/// use std::time::Duration;
/// use memo_runtime::Cache;
///
/// let cache: Cache<u64, Option<String>> = Cache::builder()
///     .name("users")
///     .ttl(Duration::from_secs(300))
///     .jitter(Duration::from_secs(60))
///     .negative_ttl(Duration::from_secs(10))
///     .capacity(50_000)
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
                name: "memo".into(),
                version: 0,
                ttl_ms: None,
                jitter_ms: 0,
                negative_ttl_ms: None,
                capacity: DEFAULT_CAPACITY,
                max_bytes: None,
                stale_ms: 0,
                stale_if_error_ms: None,
                retry_after_ms: DEFAULT_RETRY_AFTER.as_millis() as u64,
                early_refresh: None,
                timeout: None,
                #[cfg(feature = "redis")]
                l2: None,
                #[cfg(feature = "redis")]
                fleet_lock: None,
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
        self.policy.name = name.into().into();
        self
    }

    /// The value's version; bump it when the value's shape changes.
    pub fn version(mut self, version: u32) -> Self {
        self.policy.version = version;
        self
    }

    /// How long a value stays fresh. Without it, values stay until evicted or invalidated.
    pub fn ttl(mut self, ttl: Duration) -> Self {
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
    pub fn negative_ttl(mut self, ttl: Duration) -> Self {
        self.policy.negative_ttl_ms = Some(millis(ttl));
        self
    }

    /// The most entries kept; beyond it S3-FIFO eviction removes first the expired entries, then
    /// new keys not hit again, then entries not hit lately.
    /// Defaults to [`DEFAULT_CAPACITY`]. `0` keeps nothing (every call loads).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.policy.capacity = capacity;
        self
    }

    /// A bound in bytes besides the bound in entries: beyond it eviction removes entries as
    /// it does beyond the capacity. Each entry weighs what the cache's weigher says: by
    /// default the key's and the value's inline size (`size_of::<K>() + size_of::<V>()`),
    /// which does not count what they own on the heap; give a weigher that does with
    /// [`Cache::with_weigher`] (or `#[cached(weigher = ...)]`). An entry heavier than the
    /// bound is not kept.
    ///
    /// ```
    /// let cache: memo_runtime::Cache<u32, String> =
    ///     memo_runtime::Cache::builder().max_bytes(1_000).build().with_weigher(|_, page| page.len());
    /// for id in 0..100 {
    ///     cache.insert(id, "x".repeat(100));
    /// }
    /// assert_eq!(cache.stats().entries, 10);
    /// ```
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.policy.max_bytes = Some(bytes);
        self
    }

    /// Stale-while-revalidate: for `window` after the time to live, a call answers at once
    /// with the old value while one background reload runs.
    ///
    /// ```
    /// use std::time::Duration;
    /// let cache: memo_runtime::Cache<u8, u8> = memo_runtime::Cache::builder()
    ///     .ttl(Duration::from_secs(60))
    ///     .stale(Duration::from_secs(30))
    ///     .build();
    /// cache.insert(1, 1);
    /// let info = cache.entry_info(&1).unwrap();
    /// assert_eq!(info.stale_until_millis - info.fresh_until_millis, 30_000);
    /// ```
    pub fn stale(mut self, window: Duration) -> Self {
        self.policy.stale_ms = millis(window);
        self
    }

    /// Stale-if-error: when a load fails, panics or times out, answer with the last good value if it
    /// is younger than `max_age`, and wait [`retry_after`](Self::retry_after) before trying
    /// the source again.
    ///
    /// ```
    /// use std::time::Duration;
    /// let cache: memo_runtime::Cache<u8, u8> = memo_runtime::Cache::builder()
    ///     .ttl(Duration::from_secs(60))
    ///     .stale_if_error(Duration::from_secs(3_600))
    ///     .build();
    /// # let _ = cache;
    /// ```
    pub fn stale_if_error(mut self, max_age: Duration) -> Self {
        self.policy.stale_if_error_ms = Some(millis(max_age));
        self
    }

    /// With `stale_if_error`, how long a failed load answered from the last good value waits before the source is tried
    /// again (at most one try per key per period). Defaults to [`DEFAULT_RETRY_AFTER`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = memo_runtime::Cache::builder().retry_after(Duration::from_secs(5));
    /// # let _ = builder;
    /// ```
    pub fn retry_after(mut self, period: Duration) -> Self {
        self.policy.retry_after_ms = millis(period).max(1);
        self
    }

    /// Early refresh (XFetch, Vattani et al., PVLDB 2015): a hit reloads in the background
    /// when `now - load_time * beta * ln(random()) >= fresh_until`, so a hot key is reloaded
    /// shortly before it expires instead of by a crowd after. `1.0` is the paper's choice;
    /// larger refreshes earlier. Non-positive values turn it off.
    ///
    /// ```
    /// let builder = memo_runtime::Cache::builder().early_refresh(1.0);
    /// # let _ = builder;
    /// ```
    pub fn early_refresh(mut self, beta: f64) -> Self {
        self.policy.early_refresh = (beta > 0.0 && beta.is_finite()).then_some(beta);
        self
    }

    /// How long a call waits for a load: past it the call answers with a stale or stale-if-error
    /// value if there is one, else with a timeout error, and the load finishes in the
    /// background.
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = memo_runtime::Cache::builder().timeout(Duration::from_millis(250));
    /// # let _ = builder;
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.policy.timeout = Some(timeout);
        self
    }

    /// Keeps this cache's distributed entries in `l2` rather than the installed L2 (feature
    /// `redis`): for several instances in one process, as in tests.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let l2 = memo_runtime::Memo::builder().redis("redis://127.0.0.1:1").connect().unwrap();
    /// let cache: memo_runtime::Cache<u8, u8> = memo_runtime::Cache::builder().l2(l2).build();
    /// # let _ = cache;
    /// # }
    /// ```
    #[cfg(feature = "redis")]
    pub fn l2(mut self, l2: std::sync::Arc<crate::l2::redis::RedisL2>) -> Self {
        self.policy.l2 = Some(l2);
        self
    }

    /// One load per key across every instance, not only per process (feature `redis`; what
    /// `#[cached(distributed, fleet_single_flight)]` sets): before it loads a key the L2 does
    /// not hold, an instance takes a lock on the key in Redis that expires after `lock_ttl`;
    /// the other instances' callers wait for the holder's value, woken by the backplane, and
    /// load themselves when the lock expires first (its holder died) or Redis cannot be asked.
    /// Worth its round trip for loads that are expensive, on many instances.
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = memo_runtime::Cache::builder().fleet_single_flight(Duration::from_secs(5));
    /// # let _ = builder;
    /// ```
    #[cfg(feature = "redis")]
    pub fn fleet_single_flight(mut self, lock_ttl: Duration) -> Self {
        self.policy.fleet_lock = Some(lock_ttl.max(Duration::from_millis(1)));
        self
    }

    /// Builds the cache. Starts the coarse clock's thread on first use in the process.
    #[must_use]
    pub fn build<K: CacheKey, V: CacheValue>(self) -> Cache<K, V> {
        Cache::with_policy(self.policy)
    }
}
