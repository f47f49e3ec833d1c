//! The in-process cache (L1) behind every `#[cached]` function.
//!
//! A [`Cache`] maps keys to values with a time to live, single-flight loading and a bounded
//! size. The macros build one per function; it can also be used directly:
//!
//! ```
//! use std::time::Duration;
//! use memo_runtime::{Cache, Load};
//!
//! let cache: Cache<u64, String> = Cache::builder()
//!     .name("users")
//!     .ttl(Duration::from_secs(60))
//!     .capacity(10_000)
//!     .build();
//!
//! let name = cache.get_or_load(7, Load::value(|| "seven".to_string()));
//! assert_eq!(name, "seven");
//! assert_eq!(cache.get(&7).as_deref(), Some("seven"));
//! assert_eq!(cache.stats().loads, 1);
//! ```
//!
//! # The read path
//!
//! One module a concern:
//!
//! - `call`: what a loading call hands the cache, one [`Load`] (body, tags, timeout answer), and
//!   whether it may outlive the call ([`InCall`], [`Background`]); the mode picks the read path
//!   at compile time.
//! - `policy`: the settings, the one constructor of an entry's times and the one verdict every
//!   path asks of an entry (fresh, due for an early refresh, stale, expired; stale-if-error).
//! - `store`: the map and its eviction.
//! - `flight`: single-flight, one load per key at a time.
//! - `miss`: the loading API and the one loop every miss runs (join or lead, wait, retry, time
//!   out); `load`: what a leader does (run the body here or apart from the caller, then store
//!   its value or answer from the stale-if-error value, in one place); `in_call`: the async
//!   call whose body runs in the call, with its miss compiled once per cache rather than once
//!   per function (the body is lent to each poll of the miss, not held by it).
//! - `runner`: the only place where sync and async functions differ (blocking waits and the
//!   load pool, or awaited waits and tokio tasks).
//! - `fresh` and `background_mode`: stale-while-revalidate, early refresh and the load timeout.
//! - the tier beneath (the Redis L2, `distributed`), known through one trait: read by async
//!   misses as the key's leader, told of every change.
//!
//! # Engine
//!
//! Entries live in an [`scc::HashIndex`], whose reads take no lock and write nothing shared, so
//! a hit costs a hash, a probe, one relaxed load of the [coarse clock](crate::clock) and a
//! clone of the value. Writes go through one writer lock per cache that also runs S3-FIFO
//! eviction (see the `store` module); the README's design notes give the measurements behind
//! this choice.

mod background_mode;
mod batch;
mod body;
pub(crate) mod builder;
mod call;
mod changes;
#[cfg(feature = "redis")]
mod distributed;
mod flight;
mod floors;
mod fresh;
mod gather;
mod in_call;
mod load;
mod miss;
mod policy;
pub(crate) mod runner;
mod store;
mod tier;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

pub use background_mode::{FromTimeout, LoadTimeout};
pub use builder::{CacheBuilder, DEFAULT_CAPACITY, DEFAULT_RETRY_AFTER};
pub use call::{AsyncMode, Background, InCall, Load, Step, SyncMode};
pub use miss::Keyed;

use crate::clock;
use crate::entry::{Entry, EntryInfo, Meta, TagState};
use crate::notice::Notice;
use crate::outcome::{CacheKey, CacheValue};
use crate::stats::{CacheStats, CallCounter, Counter, Invalidations, LoadHistogram, StatsSource};
use crate::tags::Tag;
use policy::{Policy, Verdict};
use store::Writer;

pub(crate) use changes::put_output;
pub(crate) use flight::{Flight, Joined, RunsHere, Turn};
use flight::{Flights, Padded};

pub(crate) type Hasher = foldhash::fast::RandomState;

pub(crate) use tier::{Hold, Tier, TierRead};

/// An in-process cache with per-entry expiry, single-flight loads and S3-FIFO eviction.
///
/// Built with [`Cache::builder`]. `Send + Sync`; share it by reference or in an `Arc`.
pub struct Cache<K, V> {
    /// Each key's slot in `slab`, by the key's hash (see the `store` module).
    index: store::Index,
    slab: Arc<store::Slab<K, V>>,
    writer: Padded<Mutex<Writer<K, V>>>,
    flights: Flights<K, V>,
    /// Bumped by `invalidate_all`; a load that started in an earlier epoch is not stored.
    epoch: AtomicU64,
    policy: Policy,
    /// Hits, misses and loads, striped per thread (see `stats::counter`).
    calls: CallCounter,
    l2_hits: Counter,
    coalesced: Counter,
    load_errors: Counter,
    invalidated_keys: Counter,
    invalidated_all: Counter,
    invalidated_by_tag: Counter,
    stale_served: Counter,
    early_refreshes: Counter,
    stale_if_error_served: Counter,
    timeouts: Counter,
    load_times: LoadHistogram,
    /// Fallbacks and timeouts are logged at most once per period each.
    stale_if_error_log: Notice,
    timeout_log: Notice,
    /// Whether the lack of a tokio runtime for `timeout` was logged.
    no_runtime_noted: AtomicBool,
    /// Entries read from the tier beneath that were created at or before these local
    /// invalidations are misses.
    floors: floors::Floors<K>,
    /// Set when the cache first goes through a tier beneath the L1 (the Redis L2).
    tier: std::sync::OnceLock<Box<dyn Tier<K, V>>>,
    /// What an entry weighs against the byte bound (see the `store` module).
    weigher: store::Weigher<K, V>,
}

impl<K, V> fmt::Debug for Cache<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("name", &self.policy.name)
            .field("entries", &self.writer.0.try_lock().map(|w| w.live))
            .field("capacity", &self.policy.capacity)
            .finish_non_exhaustive()
    }
}

impl Cache<(), ()> {
    /// A builder with the defaults: no expiry, negative results not kept, capacity 10,000.
    ///
    /// ```
    /// use std::time::Duration;
    /// let cache: memo_runtime::Cache<String, u32> = memo_runtime::Cache::builder()
    ///     .ttl(Duration::from_millis(250))
    ///     .build();
    /// assert!(cache.get(&"a".to_string()).is_none());
    /// ```
    pub fn builder() -> CacheBuilder {
        CacheBuilder::default()
    }
}

impl<K: CacheKey, V: CacheValue> Cache<K, V> {
    fn with_policy(policy: Policy) -> Self {
        clock::ensure_started();
        let slab = Arc::new(store::Slab::new(policy.capacity));
        Self {
            index: store::Index::default(),
            slab: Arc::clone(&slab),
            writer: Padded(Mutex::new(Writer::new(slab))),
            flights: Flights::new(),
            epoch: AtomicU64::new(0),
            policy,
            calls: CallCounter::default(),
            l2_hits: Counter::default(),
            coalesced: Counter::default(),
            load_errors: Counter::default(),
            invalidated_keys: Counter::default(),
            invalidated_all: Counter::default(),
            invalidated_by_tag: Counter::default(),
            stale_served: Counter::default(),
            early_refreshes: Counter::default(),
            stale_if_error_served: Counter::default(),
            timeouts: Counter::default(),
            floors: floors::Floors::default(),
            tier: std::sync::OnceLock::new(),
            weigher: store::Weigher::Inline,
            load_times: LoadHistogram::default(),
            stale_if_error_log: Notice::new(),
            timeout_log: Notice::new(),
            no_runtime_noted: AtomicBool::new(false),
        }
    }

    /// The cache's name.
    ///
    /// ```
    /// let cache: memo_runtime::Cache<u8, u8> = memo_runtime::Cache::builder().name("prices").build();
    /// assert_eq!(cache.name(), "prices");
    /// ```
    pub fn name(&self) -> &str {
        &self.policy.name
    }

    /// The value's version, bumped when the value's shape changes.
    ///
    /// ```
    /// let cache: memo_runtime::Cache<u8, u8> = memo_runtime::Cache::builder().version(3).build();
    /// assert_eq!(cache.version(), 3);
    /// ```
    pub fn version(&self) -> u32 {
        self.policy.version
    }

    /// The fresh value for `key`, counting a hit; `None` (not counted) when absent or expired.
    ///
    /// ```
    /// let cache: memo_runtime::Cache<u8, u8> = memo_runtime::Cache::builder().build();
    /// assert_eq!(cache.get(&1), None);
    /// cache.insert(1, 10);
    /// assert_eq!(cache.get(&1), Some(10));
    /// ```
    #[inline]
    pub fn get(&self, key: &K) -> Option<V> {
        self.lookup(key).map(|(value, _)| value)
    }

    /// A fresh hit with its negative flag; counts it.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn lookup(&self, key: &K) -> Option<(V, bool)> {
        if !crate::switch::reads() {
            return None;
        }
        let now = clock::now_millis_fast();
        // No closure for the compiler to decide not to inline: the entry is read in place.
        let guard = scc::Guard::new();
        let found = match self.entry(key, &guard) {
            Some((_, e)) if self.judge(&e.meta, now) == Verdict::Fresh => {
                e.meta.touch();
                Some((e.value.clone(), e.meta.negative()))
            }
            _ => None,
        };
        drop(guard);
        if let Some((_, negative)) = &found {
            self.calls.hit(*negative);
        }
        found
    }

    /// What the cache holds for `key`, fresh or not, without counting a hit.
    ///
    /// ```
    /// use std::time::Duration;
    /// let cache: memo_runtime::Cache<u8, u8> = memo_runtime::Cache::builder()
    ///     .ttl(Duration::from_secs(60))
    ///     .build();
    /// cache.insert(1, 1);
    /// let info = cache.entry_info(&1).unwrap();
    /// assert_eq!(info.fresh_until_millis - info.created_at_millis, 60_000);
    /// assert!(!info.negative);
    /// ```
    pub fn entry_info(&self, key: &K) -> Option<EntryInfo> {
        self.peek_entry(key, |_, e| e.meta.info())
    }

    /// The verdict on an entry at `now`, its tags included: an entry whose tags were
    /// invalidated is expired. Every path that reads an entry asks this.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn judge(&self, meta: &Meta, now: u64) -> Verdict {
        match self.policy.verdict(meta, now) {
            Verdict::Expired => Verdict::Expired,
            _ if !self.tags_valid(meta) => Verdict::Expired,
            verdict => verdict,
        }
    }

    /// Whether an entry's tags survived the invalidations by tag since its load; counts an
    /// entry found invalid for the first time.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn tags_valid(&self, meta: &Meta) -> bool {
        match meta.tag_state() {
            TagState::Valid => true,
            TagState::Invalid => false,
            TagState::NewlyInvalid => {
                self.invalidated_by_tag.add(1);
                false
            }
        }
    }

    /// Waits until no load of this cache runs (background reloads included), for at most
    /// `limit`; true if none runs. For tests (feature `test-util`).
    ///
    /// ```
    /// let cache: memo_runtime::Cache<u8, u8> = memo_runtime::Cache::builder().build();
    /// assert!(cache.wait_for_loads(std::time::Duration::from_secs(1)));
    /// ```
    #[cfg(feature = "test-util")]
    pub fn wait_for_loads(&self, limit: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if self.flights.is_empty() {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    }

    /// A snapshot of the counters.
    ///
    /// ```
    /// let cache: memo_runtime::Cache<u8, u8> = memo_runtime::Cache::builder().build();
    /// cache.get_or_load(1, memo_runtime::Load::value(|| 1));
    /// cache.get_or_load(1, memo_runtime::Load::value(|| 1));
    /// let stats = cache.stats();
    /// assert_eq!((stats.hits, stats.misses, stats.loads, stats.entries), (1, 1, 1, 1));
    /// ```
    pub fn stats(&self) -> CacheStats {
        let calls = self.calls.get();
        let (entries, evictions) = {
            let w = self.lock_writer();
            (w.live as u64, w.evictions)
        };
        CacheStats {
            name: self.policy.name.to_string(),
            hits: calls.hits,
            negative_hits: calls.negative_hits,
            l2_hits: self.l2_hits.get(),
            request_hits: 0,
            misses: calls.misses,
            coalesced: self.coalesced.get(),
            loads: calls.loads,
            load_errors: self.load_errors.get(),
            evictions,
            invalidations: Invalidations {
                keys: self.invalidated_keys.get(),
                all: self.invalidated_all.get(),
                tags: self.invalidated_by_tag.get(),
            },
            stale_served: self.stale_served.get(),
            early_refreshes: self.early_refreshes.get(),
            stale_if_error_served: self.stale_if_error_served.get(),
            timeouts: self.timeouts.get(),
            entries,
            load_time: self.load_times.snapshot(),
        }
    }

    /// Builds an entry for a value, or `None` when this kind of value is not kept. `tag_seq` is
    /// the tag invalidation sequence value when the value was read from its source.
    fn new_entry(&self, value: V, negative: bool, load_micros: u32, tags: Vec<Tag>, tag_seq: u64) -> Option<Entry<V>> {
        let meta = self.policy.new_meta(clock::now_millis_fast(), negative, load_micros, tags, tag_seq)?;
        Some(Entry { value, meta })
    }

    fn lock_writer(&self) -> MutexGuard<'_, Writer<K, V>> {
        self.writer.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The shard of the flights table that holds `key`'s flight, locked.
    fn lock_flights(&self, key: &K) -> MutexGuard<'_, flight::Shard<K, V>> {
        self.flights.lock(key)
    }
}

impl<K: CacheKey, V: CacheValue> StatsSource for Cache<K, V> {
    fn stats(&self) -> CacheStats {
        Cache::stats(self)
    }
}
