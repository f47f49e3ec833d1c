//! The read path through the shared L2 (feature `redis`): L1, then L2, then the loader, under
//! one single-flight. An L2 hit fills L1 with the entry's remaining freshness; a loaded value
//! is written to the L2 with its metadata, in the background. L2 faults are misses.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Cache;
use super::policy::Accept;
use super::tier::{Hold, Pending, Tier, TierRead};
use crate::clock;
use crate::entry::{Entry, Meta, Tags, Times};
use crate::l2::envelope::{self, Decoded};
use crate::l2::keys::{self, KeyBytes};
use crate::l2::outbox::Change;
use crate::l2::redis::RedisL2;
use crate::l2::redis::lock::{Held, Lock};
use crate::outcome::{CacheKey, CacheValue};
use crate::tags::Tag;

/// How long the time of a cache's last clear, read from Redis, is trusted: the bound on how
/// long an instance that missed a clear's backplane message (it was not running, or was cut
/// off) may still read entries made before it.
pub(crate) const CLEARED_REFRESH: Duration = Duration::from_secs(1);

/// The Redis L2 as the tier beneath a cache: how the cache tells Redis and the other instances
/// about its changes.
#[derive(Debug)]
struct RedisTier {
    l2: Arc<RedisL2>,
}

impl<K, V> Tier<K, V> for RedisTier
where
    K: CacheKey + Serialize + DeserializeOwned,
    V: CacheValue + Serialize + DeserializeOwned,
{
    fn stored(&self, cache: &Cache<K, V>, key: &K, hold: Option<Hold>) {
        let held = hold.and_then(|hold| hold.downcast::<Held>().ok());
        cache.stored(&self.l2, key, held.map(|held| *held));
    }

    fn changed(&self, cache: &Cache<K, V>, key: &K, put: bool) {
        cache.key_changed(&self.l2, key, put);
    }

    fn cleared(&self, cache: &Cache<K, V>) {
        let (name, version, at) = (cache.name().to_owned(), cache.version(), clock::now_millis());
        self.l2.invalidate(Change::All { cache: name, version, at });
    }

    fn settle(&self) -> Pending<'_, ()> {
        Box::pin(self.l2.settle_in())
    }

    fn read_many<'a>(&'a self, cache: &'a Cache<K, V>, keys: &'a [K]) -> Pending<'a, Vec<Option<Entry<V>>>> {
        Box::pin(cache.read_l2_many(&self.l2, keys))
    }

    fn read<'a>(&'a self, cache: &'a Cache<K, V>, key: &'a K, accept: Accept) -> Pending<'a, TierRead<V>> {
        Box::pin(async move {
            let Ok(key_bytes) = KeyBytes::of(key) else { return TierRead { entry: None, hold: None } };
            let redis_key = keys::entry_key(self.l2.namespace(), cache.name(), cache.version(), &key_bytes);
            match cache.policy.fleet_lock {
                None => TierRead { entry: cache.read_l2(&self.l2, key, &key_bytes, &redis_key).await, hold: None },
                Some(ttl) => cache.read_or_lock(&self.l2, key, &key_bytes, &redis_key, accept, ttl).await,
            }
        })
    }
}

impl<K, V> crate::l2::backplane::Evict for Cache<K, V>
where
    K: CacheKey + Serialize + DeserializeOwned,
    V: CacheValue + Serialize + DeserializeOwned,
{
    fn cache_name(&self) -> &str {
        self.name()
    }

    fn evict_key(&self, key: &[u8], at: u64) {
        self.drop_older(key, at, true);
    }

    fn stored_elsewhere(&self, key: &[u8], at: u64) {
        self.drop_older(key, at, false);
    }

    fn evict_all(&self) {
        self.invalidate_all_local();
    }

    fn evict_copies(&self) {
        self.drop_copies();
    }
}

impl<K, V> Cache<K, V>
where
    K: CacheKey + Serialize + DeserializeOwned,
    V: CacheValue + Serialize + DeserializeOwned,
{
    /// Attaches the L2 beneath this cache, the one given to the builder or else the one
    /// installed ([`Memo::install`](crate::Memo)), if any, and returns the cache: from then on,
    /// an async miss reads the L2 before it loads, loaded values are written to it, and
    /// invalidations reach the other instances. Calls before an L2 exists attach nothing; a
    /// later call attaches it. `#[cached(distributed)]` calls it on every call.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use memo_runtime::{Cache, Load};
    /// let cache: &'static Cache<u32, String> = Box::leak(Box::new(Cache::builder().build()));
    /// // No L2 configured or installed: the L1 alone.
    /// let value = cache.through_l2().get_or_load_async(7, Load::value(async { "seven".to_owned() })).await;
    /// assert_eq!(value, "seven");
    /// # }
    /// ```
    pub fn through_l2(&'static self) -> &'static Self {
        if self.tier.get().is_none()
            && let Some(l2) = self.policy.l2.clone().or_else(|| crate::memo::installed_l2().cloned())
        {
            self.tier.get_or_init(|| {
                l2.attach(self);
                Box::new(RedisTier { l2 })
            });
        }
        self
    }

    /// Drops the L1 copy of `key` (serialized) made at or before `at`, makes older L2 copies
    /// misses, and with `loads`, stops the loads of the key that began by then from being
    /// stored.
    fn drop_older(&self, key: &[u8], at: u64, loads: bool) {
        let Ok(key) = postcard::from_bytes::<K>(key) else { return };
        // A copy made after `at` is at least as new as what the message is about: keep it.
        let older = self.peek_entry(&key, |_, e| e.meta.created_at <= at).unwrap_or(false);
        let mut w = self.lock_writer();
        // A load that began before `at` may have read what the message says is stale.
        if loads
            && let Some(flight) = self.lock_flights(&key).get(&key)
            && flight.started_at <= at
        {
            flight.invalidate();
        }
        if older && self.remove(&mut w, &key) {
            self.invalidated_keys.add(1);
        }
        drop(w);
        self.floors.key_at(&key, at);
    }

    /// After a load stored a value: write it to the L2 behind the call, release the fleet lock
    /// the load `held`, then tell the other instances that copies older than it are stale
    /// (they read this one from the L2 when next asked). All best effort: dropped, and counted,
    /// when Redis is down or too much waits (the lock then expires). A value that cannot be
    /// written lets go of the lock at once.
    fn stored(&self, l2: &Arc<RedisL2>, key: &K, held: Option<Held>) {
        let Ok(key_bytes) = KeyBytes::of(key) else { return };
        let redis_key = keys::entry_key(l2.namespace(), self.name(), self.version(), &key_bytes);
        let Some((bytes, keep_ms)) = self.encode_for_l2(l2, key, &key_bytes) else { return };
        let announce = (self.name().to_owned(), key_bytes.as_bytes().to_vec());
        let release = held.and_then(Held::after_write);
        l2.write_behind(redis_key, bytes, Duration::from_millis(keep_ms), Some(announce), release);
    }

    /// The L2's usable entry for `key`, or this process's lock on the key across the fleet
    /// (see [`fleet`](crate::l2::fleet)): while another instance holds it, waits for its value
    /// (woken by the backplane, at most `ttl` a turn) and reads again. Gives up waiting after
    /// two lock lifetimes, and loads without the lock when Redis cannot be asked.
    async fn read_or_lock(
        &self,
        l2: &Arc<RedisL2>,
        key: &K,
        key_bytes: &KeyBytes,
        redis_key: &str,
        accept: Accept,
        ttl: Duration,
    ) -> TierRead<V> {
        let give_up = tokio::time::Instant::now() + 2 * ttl;
        loop {
            // Registered before the read: a value announced after it wakes this wait.
            let waiter = l2.waiting().enter(self.name(), key_bytes.as_bytes());
            let entry = self.read_l2(l2, key, key_bytes, redis_key).await;
            let usable =
                entry.as_ref().is_some_and(|e| accept.takes(self.policy.verdict(&e.meta, clock::now_millis_fast())));
            if usable || tokio::time::Instant::now() >= give_up {
                return TierRead { entry, hold: None };
            }
            match l2.lock(redis_key, self.name(), key_bytes.as_bytes(), ttl).await {
                // What is there is not usable: this process loads.
                Lock::Taken(held) => return TierRead { entry: None, hold: Some(Box::new(held)) },
                Lock::Unavailable => return TierRead { entry, hold: None },
                // A moment past the expiry, so that the lock is free when this call asks again.
                Lock::Busy(left) => waiter.woken(left + Duration::from_millis(5)).await,
            }
        }
    }

    /// After a local invalidation or put: the L2 copy goes and the other instances drop theirs,
    /// through the outbox (never lost). A put also writes its value behind the call, and says
    /// that copies up to its millisecond are stale (so another instance may reload from the
    /// source rather than read the put's copy, never an older one).
    fn key_changed(&self, l2: &Arc<RedisL2>, key: &K, written: bool) {
        let Ok(key_bytes) = KeyBytes::of(key) else { return };
        let entry = keys::entry_key(l2.namespace(), self.name(), self.version(), &key_bytes);
        let at = if written {
            let created = self.peek_entry(key, |_, e| e.meta.created_at).unwrap_or_else(clock::now_millis);
            if let Some((bytes, keep_ms)) = self.encode_for_l2(l2, key, &key_bytes) {
                l2.write_behind(entry.clone(), bytes, Duration::from_millis(keep_ms), None, None);
            }
            created
        } else {
            clock::now_millis()
        };
        l2.invalidate(Change::Key {
            cache: self.name().to_owned(),
            version: self.version(),
            entry,
            key: key_bytes.as_bytes().to_vec(),
            at,
            put: written,
        });
    }

    /// The entry Redis holds for `key`, as an L1 entry with its remaining times, if it is
    /// well-formed, signed as required, for this key, and not older than an invalidation of
    /// the key (here), of the cache or of its tags (anywhere). Fresh or not. One round trip,
    /// two for tagged entries, all within the L2 timeout.
    async fn read_l2(&self, l2: &RedisL2, key: &K, key_bytes: &KeyBytes, redis_key: &str) -> Option<Entry<V>> {
        let deadline = l2.deadline();
        let bytes = l2.read(redis_key, deadline).await?;
        // When the last clear of the cache cannot be learned, the entry is not trusted.
        let cleared_at = self.cleared_at(l2, deadline).await?;
        self.admit(l2, key, key_bytes, &bytes, cleared_at, deadline).await
    }

    /// The L2's entries for `keys`, in order, as [`read_l2`](Self::read_l2) gives each: read in
    /// one round trip, then one more for the tagged entries, at once.
    async fn read_l2_many(&self, l2: &RedisL2, keys: &[K]) -> Vec<Option<Entry<V>>> {
        let deadline = l2.deadline();
        let named = keys.iter().map(|key| KeyBytes::of(key).ok()).collect::<Vec<_>>();
        let redis_keys = named
            .iter()
            .flatten()
            .map(|key_bytes| keys::entry_key(l2.namespace(), self.name(), self.version(), key_bytes))
            .collect::<Vec<_>>();
        let read = l2.read_many(&redis_keys, deadline).await;
        let cleared_at = match read.iter().any(Option::is_some) {
            true => self.cleared_at(l2, deadline).await,
            false => None,
        };
        let mut read = read.into_iter();
        let admitted = keys.iter().zip(&named).map(|(key, key_bytes)| {
            // Only keys that have a name were read.
            let bytes = key_bytes.as_ref().and_then(|_| read.next().flatten());
            async move {
                match (key_bytes, bytes, cleared_at) {
                    (Some(key_bytes), Some(bytes), Some(cleared_at)) => {
                        self.admit(l2, key, key_bytes, &bytes, cleared_at, deadline).await
                    }
                    _ => None,
                }
            }
        });
        futures_util::future::join_all(admitted.collect::<Vec<_>>()).await
    }

    /// The L1 entry for `bytes` read from the L2 for `key`, with its remaining times, if it is
    /// well-formed, signed as required, for this key, and not older than an invalidation of
    /// the key (here), of the cache (`cleared_at`) or of its tags (anywhere).
    async fn admit(
        &self,
        l2: &RedisL2,
        key: &K,
        key_bytes: &KeyBytes,
        bytes: &[u8],
        cleared_at: u64,
        deadline: tokio::time::Instant,
    ) -> Option<Entry<V>> {
        let decoded = envelope::decode_with(bytes, l2.limits(), l2.signer());
        match decoded.and_then(|d| d.value_for::<V>(key_bytes).map(|v| (d, v))) {
            Ok((decoded, value)) => {
                let admitted = decoded.meta.created_at > cleared_at
                    && self.floors.admits(key, decoded.meta.created_at)
                    && !crate::tags::invalidated_since(&decoded.tags, decoded.meta.created_at)
                    && tags_current_in_l2(l2, &decoded, deadline).await;
                if admitted { self.entry_from_l2(&decoded, value) } else { None }
            }
            Err(error) => {
                l2.count_corrupt();
                tracing::debug!(cache = %self.policy.name, %error, "unusable L2 entry; loading");
                None
            }
        }
    }

    /// When the cache was last cleared in any instance (`invalidate_all`), read from Redis at
    /// most once per [`CLEARED_REFRESH`] and otherwise remembered; `None` when it is due and
    /// Redis cannot say. This instance's own clears and those the backplane announces apply at
    /// once through the floors.
    async fn cleared_at(&self, l2: &RedisL2, deadline: tokio::time::Instant) -> Option<u64> {
        let now = clock::now_millis_fast();
        let checked = self.floors.cleared_checked.load(Ordering::Acquire);
        if checked == 0 || now.saturating_sub(checked) >= CLEARED_REFRESH.as_millis() as u64 {
            // Due: an instance that cannot learn it does not know what a clear elsewhere dropped.
            let cleared = l2.cleared_at(self.name(), self.version(), deadline).await?;
            self.floors.cleared.fetch_max(cleared, Ordering::AcqRel);
            self.floors.cleared_checked.store(now.max(1), Ordering::Release);
        }
        Some(self.floors.cleared.load(Ordering::Acquire))
    }

    /// An L1 entry for a value read from the L2, with its remaining freshness.
    fn entry_from_l2(&self, decoded: &Decoded<'_>, value: V) -> Option<Entry<V>> {
        let m = decoded.meta;
        let tags = Tags::new(decoded.tags.iter().map(|t| Tag::from(*t)).collect(), crate::tags::sequence());
        let times = Times {
            created_at: m.created_at,
            fresh_until: m.fresh_until,
            stale_until: m.stale_until,
            stale_if_error_until: m.stale_if_error_until,
        };
        Some(Entry { value, meta: Meta::new(times, m.load_micros, m.negative, tags) })
    }

    /// What L1 now holds for `key`, as L2 bytes with the time left to keep them.
    fn encode_for_l2(&self, l2: &RedisL2, key: &K, key_bytes: &KeyBytes) -> Option<(Vec<u8>, u64)> {
        let now = clock::now_millis_fast();
        let encoded = self
            .peek_entry(key, |_, e| {
                let meta = envelope::Meta {
                    created_at: e.meta.created_at,
                    fresh_until: e.meta.fresh_until(),
                    stale_until: e.meta.stale_until(),
                    stale_if_error_until: e.meta.stale_if_error_until(),
                    load_micros: e.meta.load_micros(),
                    negative: e.meta.negative(),
                };
                let keep = e.meta.keep_until().saturating_sub(now);
                (keep > 0).then(|| {
                    envelope::encode_with(&meta, &e.meta.tags, key_bytes, &e.value, l2.signer()).map(|b| (b, keep))
                })
            })
            .flatten()?;
        match encoded {
            Ok(encoded) => Some(encoded),
            Err(error) => {
                l2.count_oversized();
                tracing::debug!(cache = %self.policy.name, %error, "value not written to the L2");
                None
            }
        }
    }
}

/// Whether none of an L2 entry's tags was invalidated (by any instance) since it was made: one
/// more round trip, for tagged entries only. When Redis cannot say, the entry is not used.
async fn tags_current_in_l2(l2: &RedisL2, decoded: &Decoded<'_>, deadline: tokio::time::Instant) -> bool {
    if decoded.tags.is_empty() {
        return true;
    }
    l2.latest_tag_invalidation(&decoded.tags, deadline).await.is_some_and(|latest| latest < decoded.meta.created_at)
}
