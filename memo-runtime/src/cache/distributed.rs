//! The read path through the shared L2 (feature `redis`): L1, then L2, then the loader, under
//! one single-flight. An L2 hit fills L1 with the entry's remaining freshness; a loaded value
//! is written to the L2 with its metadata, in the background. L2 faults are misses.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Cache;
use super::load::Join;
use crate::clock;
use crate::entry::{Entry, Meta};
use crate::l2::envelope::{self, Decoded};
use crate::l2::keys::{self, KeyBytes};
use crate::l2::redis::RedisL2;
use crate::outcome::{CacheKey, CacheValue, Shape};
use crate::tags::Tag;

/// Local invalidations that L2 entries must postdate: per key (bounded), and for the whole
/// cache. An entry read from the L2 that was created at or before one of them is a miss, so an
/// invalidation in this process is never undone by an older copy in the L2.
#[derive(Debug)]
pub(crate) struct Floors<K> {
    all: AtomicU64,
    keys: Mutex<HashMap<K, u64, super::Hasher>>,
}

impl<K> Default for Floors<K> {
    fn default() -> Self {
        Self { all: AtomicU64::new(0), keys: Mutex::new(HashMap::with_hasher(super::Hasher::default())) }
    }
}

/// Per-key floors kept before they are folded into the cache-wide one.
const MAX_KEY_FLOORS: usize = 10_000;

impl<K: CacheKey> Floors<K> {
    pub(crate) fn key(&self, key: &K) {
        let now = clock::now_millis();
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        if keys.len() >= MAX_KEY_FLOORS {
            keys.clear();
            self.all.fetch_max(now, Ordering::AcqRel);
        } else {
            keys.insert(key.clone(), now);
        }
    }

    pub(crate) fn all(&self) {
        self.all.fetch_max(clock::now_millis(), Ordering::AcqRel);
        self.keys.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    fn admits(&self, key: &K, created_at: u64) -> bool {
        created_at > self.all.load(Ordering::Acquire)
            && self.keys.lock().unwrap_or_else(PoisonError::into_inner).get(key).is_none_or(|at| created_at > *at)
    }
}

impl<K, V> Cache<K, V>
where
    K: CacheKey + Serialize,
    V: CacheValue + Serialize + DeserializeOwned,
{
    fn l2(&self) -> Option<Arc<RedisL2>> {
        self.policy.l2.clone().or_else(|| crate::memo::installed_l2().cloned())
    }

    /// The value for `key` from L1, the L2 or `load`, with one load per key at a time in this
    /// process. Without an L2 (none installed or attached) this is
    /// [`get_or_load_async`](Self::get_or_load_async).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use memo_runtime::outcome::PlainShape;
    /// let cache: memo_runtime::Cache<u32, String> = memo_runtime::Cache::builder().build();
    /// let shape = PlainShape::<String>::default();
    /// let value = cache.get_or_load_distributed(7, shape, |_| Vec::new(), async { (Vec::new(), "seven".to_owned()) }).await;
    /// assert_eq!(value, "seven");
    /// # }
    /// ```
    pub async fn get_or_load_distributed<S: Shape<Stored = V>>(
        &self,
        key: K,
        shape: S,
        derive: impl FnOnce(&V) -> Vec<Tag>,
        load: impl Future<Output = (Vec<Tag>, S::Output)>,
    ) -> S::Output {
        if let Some((value, _)) = self.lookup(&key) {
            return shape.rebuild(value);
        }
        let Some(l2) = self.l2() else {
            return self.load_async_tagged(key, shape, derive, load).await;
        };
        let lead = match self.join(&key, false) {
            Join::Hit(value) => return shape.rebuild(value),
            // Someone in this process is already reading the L2 or loading: wait with them.
            Join::Wait(_) => return self.load_async_tagged(key, shape, derive, load).await,
            Join::Lead(lead) => lead,
        };
        let Ok(key_bytes) = KeyBytes::of(&key) else {
            drop(lead);
            return self.load_async_tagged(key, shape, derive, load).await;
        };
        let redis_key = keys::entry_key(l2.namespace(), self.name(), self.version(), &key_bytes);
        if let Some(bytes) = l2.get(&redis_key).await {
            match envelope::decode(&bytes, l2.limits()).and_then(|d| d.value_for::<V>(&key_bytes).map(|v| (d, v))) {
                Ok((decoded, value))
                    if clock::now_millis_fast() < decoded.meta.fresh_until
                        && self.l2_floors.admits(&key, decoded.meta.created_at)
                        && !crate::tags::invalidated_since(&decoded.tags, decoded.meta.created_at) =>
                {
                    self.misses.add(1);
                    if let Some(entry) = self.entry_from_l2(&decoded, value.clone()) {
                        lead.finish_with(&value, entry);
                    }
                    return shape.rebuild(value);
                }
                Ok(_) => {}
                Err(error) => {
                    l2.count_corrupt();
                    tracing::debug!(cache = %self.policy.name, %error, "unusable L2 entry; loading");
                }
            }
        }
        drop(lead);
        let output = self.load_async_tagged(key.clone(), shape, derive, load).await;
        self.write_l2(&l2, &key, &redis_key, &key_bytes);
        output
    }

    /// An L1 entry for a value read from the L2, with its remaining freshness.
    fn entry_from_l2(&self, decoded: &Decoded<'_>, value: V) -> Option<Entry<V>> {
        let m = decoded.meta;
        let tags: Arc<[Tag]> = decoded.tags.iter().map(|t| Tag::from(*t)).collect();
        let tag_seq = crate::tags::sequence();
        Some(Entry {
            value,
            meta: Meta {
                created_at: m.created_at,
                fresh_until: m.fresh_until,
                stale_until: m.stale_until,
                fallback_until: m.fallback_until,
                load_micros: m.load_micros,
                negative: m.negative,
                tags,
                tag_seq,
                tags_checked: std::sync::atomic::AtomicU64::new(tag_seq),
                generation: 0,
                referenced: Default::default(),
            },
        })
    }

    /// Writes what L1 now holds for `key` to the L2, on a background task (no task runtime:
    /// skipped).
    fn write_l2(&self, l2: &Arc<RedisL2>, key: &K, redis_key: &str, key_bytes: &KeyBytes) {
        let now = clock::now_millis_fast();
        let Some(bytes) = self
            .map
            .peek_with(key, |_, e| {
                let meta = envelope::Meta {
                    created_at: e.meta.created_at,
                    fresh_until: e.meta.fresh_until,
                    stale_until: e.meta.stale_until,
                    fallback_until: e.meta.fallback_until,
                    load_micros: e.meta.load_micros,
                    negative: e.meta.negative,
                };
                let keep = e.meta.keep_until().saturating_sub(now);
                (keep > 0).then(|| envelope::encode(&meta, &e.meta.tags, key_bytes, &e.value).map(|b| (b, keep)))
            })
            .flatten()
        else {
            return;
        };
        let (bytes, keep_ms) = match bytes {
            Ok(encoded) => encoded,
            Err(error) => {
                l2.count_oversized();
                tracing::debug!(cache = %self.policy.name, %error, "value not written to the L2");
                return;
            }
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let l2 = Arc::clone(l2);
            let redis_key = redis_key.to_owned();
            runtime.spawn(async move { l2.set(&redis_key, &bytes, Duration::from_millis(keep_ms)).await });
        }
    }
}
