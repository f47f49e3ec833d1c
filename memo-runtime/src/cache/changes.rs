//! What changes a cache from outside a load: put values, invalidate keys, clear. Each change
//! also stops a running load of the key from storing an older value, and is passed on to the
//! tier beneath (see [`Tier`](super::Tier)).

use std::sync::atomic::Ordering;

use super::Cache;
use crate::outcome::{CacheKey, CacheValue, Shape};
use crate::tags::Tag;

impl<K: CacheKey, V: CacheValue> Cache<K, V> {
    /// Stores `value` under `key` as a positive entry with the cache's time to live,
    /// replacing what was there. A load of `key` already running is not stored when it ends,
    /// so it cannot overwrite this newer value.
    pub fn insert(&self, key: K, value: V) {
        self.put_entry(key, value, false, Vec::new());
    }

    /// [`insert`](Self::insert) with tags, for [`invalidate_tag`](crate::invalidate_tag).
    ///
    /// ```
    /// let cache: memo_runtime::Cache<u8, u8> = memo_runtime::Cache::builder().build();
    /// cache.insert_with_tags(1, 10, ["doc:insert_with_tags"]);
    /// memo_runtime::invalidate_tag("doc:insert_with_tags");
    /// assert_eq!(cache.get(&1), None);
    /// ```
    pub fn insert_with_tags<I>(&self, key: K, value: V, tags: I)
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.put_entry(key, value, false, crate::tags::collect(tags));
    }

    /// Stores a value from outside the loader (write-through); `negative` entries use the
    /// negative time to live and are dropped when the cache keeps none.
    pub(crate) fn put_entry(&self, key: K, value: V, negative: bool, tags: Vec<Tag>) {
        let tag_seq = crate::tags::sequence();
        let mut w = self.lock_writer();
        self.invalidate_flight(&key);
        if let Some(entry) = self.new_entry(value, negative, 0, tags, tag_seq) {
            self.write(&mut w, key.clone(), entry);
        }
        drop(w);
        if let Some(tier) = self.tier.get() {
            tier.changed(self, &key, true);
        }
    }

    /// Removes `key`'s entry; a load of `key` running now will not be stored. True if an entry
    /// was removed.
    ///
    /// ```
    /// let cache: memo_runtime::Cache<u8, u8> = memo_runtime::Cache::builder().build();
    /// cache.insert(1, 1);
    /// assert!(cache.invalidate(&1));
    /// assert_eq!(cache.get(&1), None);
    /// ```
    pub fn invalidate(&self, key: &K) -> bool {
        let removed = self.invalidate_local(key);
        if let Some(tier) = self.tier.get() {
            tier.changed(self, key, false);
        }
        removed
    }

    /// [`invalidate`](Self::invalidate) in this process only.
    pub(crate) fn invalidate_local(&self, key: &K) -> bool {
        let mut w = self.lock_writer();
        self.invalidate_flight(key);
        let removed = self.remove(&mut w, key);
        self.invalidated_keys.add(1);
        self.floors.key(key, self.tier.get().is_some());
        removed
    }

    /// Removes every entry; loads running now will not be stored.
    ///
    /// ```
    /// let cache: memo_runtime::Cache<u8, u8> = memo_runtime::Cache::builder().build();
    /// cache.insert(1, 1);
    /// cache.invalidate_all();
    /// assert_eq!(cache.stats().entries, 0);
    /// ```
    pub fn invalidate_all(&self) {
        self.invalidate_all_local();
        if let Some(tier) = self.tier.get() {
            tier.cleared(self);
        }
    }

    /// [`invalidate_all`](Self::invalidate_all) in this process only.
    pub(crate) fn invalidate_all_local(&self) {
        self.drop_copies();
        self.invalidated_all.add(1);
        self.floors.all();
    }

    /// Drops every entry, and stores no load running now: when this process may have missed
    /// invalidations. The L2's copies keep their own records of invalidations (tombstones,
    /// clear and tag times) and are judged by them.
    pub(crate) fn drop_copies(&self) {
        let mut w = self.lock_writer();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.flights.for_each(|flight| flight.invalidate());
        self.clear(&mut w);
    }

    /// Marks a running load of `key` as invalidated: it answers the callers already waiting
    /// but is not stored, and callers that come later wait for it to end and then load again,
    /// so that one key never has two loads at once and no load that began before the
    /// invalidation is served after it.
    fn invalidate_flight(&self, key: &K) {
        if let Some(flight) = self.lock_flights(key).get(key) {
            flight.invalidate();
        }
    }
}

/// Puts a value through a [`Shape`]: errors are not stored, negatives use the negative TTL;
/// the entry carries `tags` plus those `derive` gives for the value.
pub(crate) fn put_output<K: CacheKey, S: Shape>(
    cache: &Cache<K, S::Stored>,
    key: K,
    shape: S,
    output: S::Output,
    mut tags: Vec<Tag>,
    derive: impl FnOnce(&S::Stored) -> Vec<Tag>,
) {
    let (value, negative) = match shape.split(output) {
        crate::outcome::Outcome::Positive(v) => (v, false),
        crate::outcome::Outcome::Negative(v) => (v, true),
        crate::outcome::Outcome::Error(_) => return,
    };
    tags.extend(derive(&value));
    cache.put_entry(key, value, negative, tags);
}
