//! The per-scope memo tables and the call path of `#[request_memo]` functions.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use super::{CURRENT, Scope};
use crate::cache::{Flight, Hasher, Waited};
use crate::outcome::{CacheKey, CacheValue, Outcome, Shape};

/// Identifies one memoized function: a `static` in its body, compared by address.
#[derive(Debug)]
pub struct MemoSite {
    _not_zero_sized: u8,
}

impl MemoSite {
    /// A site, for a `static`.
    #[must_use]
    pub const fn new() -> Self {
        Self { _not_zero_sized: 0 }
    }

    fn id(&'static self) -> usize {
        std::ptr::from_ref(self).addr()
    }
}

impl Default for MemoSite {
    fn default() -> Self {
        Self::new()
    }
}

enum Slot<V> {
    Ready(V),
    Loading(Arc<Flight<V>>),
}

type Table<K, V> = HashMap<K, Slot<V>, Hasher>;

/// Every function's table in one scope, behind the scope's lock.
#[derive(Default)]
pub(crate) struct Tables {
    /// `(site, table)`; a request touches few functions, so a short list beats a map.
    sites: Vec<(usize, Box<dyn Any + Send>)>,
    pub(super) entries: usize,
    pub(super) skipped: usize,
}

impl Tables {
    fn table<K: CacheKey, V: CacheValue>(&mut self, site: usize) -> Option<&mut Table<K, V>> {
        let index = match self.sites.iter().position(|(s, _)| *s == site) {
            Some(index) => index,
            None => {
                self.sites.push((site, Box::new(Table::<K, V>::with_hasher(Hasher::default()))));
                self.sites.len() - 1
            }
        };
        self.sites[index].1.downcast_mut::<Table<K, V>>()
    }
}

enum Join<V> {
    Hit(V),
    Lead(Arc<Flight<V>>),
    Wait(Arc<Flight<V>>),
    /// The site's table holds other types (cannot happen with generated code): run uncached.
    Bypass,
}

impl Scope {
    fn join<K: CacheKey, V: CacheValue>(&self, site: usize, key: &K, sync: bool) -> Join<V> {
        let mut tables = self.lock();
        let Some(table) = tables.table::<K, V>(site) else { return Join::Bypass };
        match table.get(key) {
            Some(Slot::Ready(value)) => Join::Hit(value.clone()),
            Some(Slot::Loading(flight)) => Join::Wait(Arc::clone(flight)),
            None => {
                let flight = Arc::new(Flight::new(sync));
                table.insert(key.clone(), Slot::Loading(Arc::clone(&flight)));
                Join::Lead(flight)
            }
        }
    }

    /// Ends a lead: keeps `value` (room permitting) or, with `None`, forgets the key so that a
    /// waiter retries; then wakes the waiters.
    fn settle<K: CacheKey, V: CacheValue>(&self, site: usize, key: &K, flight: &Arc<Flight<V>>, value: Option<&V>) {
        {
            let mut tables = self.lock();
            let full = tables.entries >= self.inner.max_entries;
            let keep = value.is_some() && !full;
            if let Some(table) = tables.table::<K, V>(site)
                && matches!(table.get(key), Some(Slot::Loading(f)) if Arc::ptr_eq(f, flight))
            {
                match (keep, value) {
                    (true, Some(value)) => {
                        table.insert(key.clone(), Slot::Ready(value.clone()));
                    }
                    _ => {
                        table.remove(key);
                    }
                }
            }
            if keep {
                tables.entries += 1;
            } else if value.is_some() {
                tables.skipped += 1;
            }
        }
        match value {
            Some(value) => flight.complete(value.clone()),
            None => flight.abandon(),
        }
    }
}

/// Abandons the lead if the loader panics or its future is dropped.
struct Lead<'a, K: CacheKey, V: CacheValue> {
    scope: &'a Scope,
    site: usize,
    key: &'a K,
    flight: Option<Arc<Flight<V>>>,
}

impl<K: CacheKey, V: CacheValue> Lead<'_, K, V> {
    fn finish<S: Shape<Stored = V>>(mut self, shape: S, output: S::Output) -> S::Output {
        let Some(flight) = self.flight.take() else { return output };
        match shape.split(output) {
            Outcome::Positive(value) | Outcome::Negative(value) => {
                self.scope.settle(self.site, self.key, &flight, Some(&value));
                shape.rebuild(value)
            }
            Outcome::Error(output) => {
                self.scope.settle::<K, V>(self.site, self.key, &flight, None);
                output
            }
        }
    }
}

impl<K: CacheKey, V: CacheValue> Drop for Lead<'_, K, V> {
    fn drop(&mut self) {
        if let Some(flight) = self.flight.take() {
            self.scope.settle::<K, V>(self.site, self.key, &flight, None);
        }
    }
}

/// The first lookup, on the task-local scope without cloning it: a hit costs no reference
/// count traffic. `None` outside any scope; else the hit, or the scope and what to do.
fn first_join<K: CacheKey, V: CacheValue>(site: usize, key: &K, sync: bool) -> Option<Result<V, (Scope, Join<V>)>> {
    CURRENT
        .try_with(|current| {
            current.as_ref().map(|scope| match scope.join::<K, V>(site, key, sync) {
                Join::Hit(value) => Ok(value),
                other => Err((scope.clone(), other)),
            })
        })
        .ok()
        .flatten()
}

/// Runs a synchronous `#[request_memo]` call: `key` is `Some` when the caller is in a scope.
pub fn request_memo<K: CacheKey, S: Shape>(
    site: &'static MemoSite,
    key: Option<K>,
    shape: S,
    load: impl FnOnce() -> S::Output,
) -> S::Output {
    let Some(key) = key else { return load() };
    let site = site.id();
    let (scope, mut join) = match first_join::<K, S::Stored>(site, &key, true) {
        None => return load(),
        Some(Ok(value)) => return shape.rebuild(value),
        Some(Err(next)) => next,
    };
    loop {
        match join {
            Join::Hit(value) => return shape.rebuild(value),
            Join::Bypass => return load(),
            Join::Lead(flight) => {
                let lead = Lead { scope: &scope, site, key: &key, flight: Some(flight) };
                return lead.finish(shape, load());
            }
            Join::Wait(flight) => {
                if flight.led_by_this_thread() {
                    return load();
                }
                if let Waited::Value(value) = flight.wait_blocking(None) {
                    return shape.rebuild(value);
                }
            }
        }
        join = scope.join::<K, S::Stored>(site, &key, true);
    }
}

/// Runs an async `#[request_memo]` call: `key` is `Some` when the caller is in a scope.
pub async fn request_memo_async<K: CacheKey, S: Shape>(
    site: &'static MemoSite,
    key: Option<K>,
    shape: S,
    load: impl Future<Output = S::Output>,
) -> S::Output {
    let Some(key) = key else { return load.await };
    let site = site.id();
    let (scope, mut join) = match first_join::<K, S::Stored>(site, &key, false) {
        None => return load.await,
        Some(Ok(value)) => return shape.rebuild(value),
        Some(Err(next)) => next,
    };
    loop {
        match join {
            Join::Hit(value) => return shape.rebuild(value),
            Join::Bypass => return load.await,
            Join::Lead(flight) => {
                let lead = Lead { scope: &scope, site, key: &key, flight: Some(flight) };
                let output = load.await;
                return lead.finish(shape, output);
            }
            Join::Wait(flight) => {
                if let Waited::Value(value) = flight.wait(None).await {
                    return shape.rebuild(value);
                }
            }
        }
        join = scope.join::<K, S::Stored>(site, &key, false);
    }
}
