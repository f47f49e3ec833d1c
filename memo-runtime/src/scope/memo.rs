//! The per-scope memo tables and the call path of `#[request_memo]` functions.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use super::{CURRENT, Scope};
use crate::cache::runner::{self, Blocking, Runner, Tokio};
use crate::cache::{Flight, Hasher, Joined, RunsHere, Turn};
use crate::outcome::{CacheKey, CacheValue, Outcome, Shape};
use crate::stats::{CacheStats, CallCounter, StatsSource};

/// Identifies one memoized function: a `static` in its body, compared by address. Counts the
/// calls its request memo answered and those that ran the function, under the function's name.
#[derive(Debug)]
pub struct MemoSite {
    name: &'static str,
    /// Whether what runs on a miss is the function's body (`#[request_memo]`), rather than a
    /// cache that counts its own loads (`#[cached(request_consistent)]`).
    runs_body: bool,
    counts: OnceLock<CallCounter>,
}

impl MemoSite {
    /// A site, for a `static`.
    #[must_use]
    pub const fn new(name: &'static str) -> Self {
        Self { name, runs_body: true, counts: OnceLock::new() }
    }

    /// A site in front of a cache (`request_consistent`): its misses go to the cache, which
    /// counts the loads.
    #[must_use]
    pub const fn over_cache(name: &'static str) -> Self {
        Self { name, runs_body: false, counts: OnceLock::new() }
    }

    fn id(&'static self) -> usize {
        std::ptr::from_ref(self).addr()
    }

    fn counts(&'static self) -> &'static CallCounter {
        self.counts.get_or_init(|| {
            crate::stats::register(self);
            CallCounter::default()
        })
    }

    #[inline]
    fn hit(&'static self) {
        self.counts().hit(false);
    }

    fn miss(&'static self) {
        self.counts().miss();
    }

    /// The body runs, inside a scope.
    fn load(&'static self) {
        if self.runs_body {
            self.counts().load();
        }
    }
}

impl StatsSource for MemoSite {
    fn stats(&self) -> CacheStats {
        let calls = self.counts.get().map(CallCounter::get).unwrap_or_default();
        CacheStats {
            name: self.name.to_owned(),
            request_hits: calls.hits,
            misses: calls.misses,
            loads: calls.loads,
            ..CacheStats::default()
        }
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

/// What a call found in its scope's table: the lead holds the new flight, or none when the
/// site's table holds other types (cannot happen with generated code: the call runs uncached).
type Join<V> = Joined<Option<Arc<Flight<V>>>, V>;

impl Scope {
    fn join<K: CacheKey, V: CacheValue>(&self, site: usize, key: &K) -> Join<V> {
        let mut tables = self.lock();
        let Some(table) = tables.table::<K, V>(site) else { return Join::Lead(None) };
        match table.get(key) {
            Some(Slot::Ready(value)) => Join::Hit(value.clone()),
            Some(Slot::Loading(flight)) => Join::Wait(Arc::clone(flight)),
            None => {
                let flight = Arc::new(Flight::new());
                table.insert(key.clone(), Slot::Loading(Arc::clone(&flight)));
                Join::Lead(Some(flight))
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

/// What a call finds at its first lookup.
enum First<K: CacheKey, V: CacheValue> {
    /// A hit (counted).
    Hit(V),
    /// Outside any scope, or caching off: the call runs the body.
    Outside,
    /// The scope, the key and what to do about it.
    Joined(Scope, K, Join<V>),
}

/// The first lookup, on the task-local scope without cloning it: a hit costs no reference
/// count traffic and no future. `key` is `Some` when the caller is in a scope.
fn first<K: CacheKey, V: CacheValue>(site: &'static MemoSite, key: Option<K>) -> First<K, V> {
    let Some(key) = key.filter(|_| crate::enabled()) else { return First::Outside };
    let found = CURRENT.try_with(|current| {
        current.as_ref().map(|scope| match scope.join::<K, V>(site.id(), &key) {
            Join::Hit(value) => Ok(value),
            other => Err((scope.clone(), other)),
        })
    });
    match found.ok().flatten() {
        None => First::Outside,
        Some(Ok(value)) => {
            site.hit();
            First::Hit(value)
        }
        Some(Err((scope, join))) => First::Joined(scope, key, join),
    }
}

/// Runs a synchronous `#[request_memo]` call: `key` is `Some` when the caller is in a scope.
pub fn request_memo<K: CacheKey, S: Shape>(
    site: &'static MemoSite,
    key: Option<K>,
    shape: S,
    load: impl FnOnce() -> S::Output,
) -> S::Output {
    match first::<K, S::Stored>(site, key) {
        First::Hit(value) => shape.rebuild(value),
        First::Outside => load(),
        First::Joined(scope, key, join) => {
            runner::drive(std::pin::pin!(memo_miss::<Blocking, K, S>(site, (scope, key, join), shape, async move {
                load()
            })))
        }
    }
}

/// Runs an async `#[request_memo]` call: `key` is `Some` when the caller is in a scope.
pub async fn request_memo_async<K: CacheKey, S: Shape>(
    site: &'static MemoSite,
    key: Option<K>,
    shape: S,
    load: impl Future<Output = S::Output>,
) -> S::Output {
    match first::<K, S::Stored>(site, key) {
        First::Hit(value) => shape.rebuild(value),
        First::Outside => load.await,
        First::Joined(scope, key, join) => memo_miss::<Tokio, K, S>(site, (scope, key, join), shape, load).await,
    }
}

/// Both forms' miss: the first call for a key in the scope runs `load`, the others (here or
/// on other tasks of the request) wait for it and share its answer.
async fn memo_miss<R: Runner, K: CacheKey, S: Shape>(
    site: &'static MemoSite,
    (scope, key, join): (Scope, K, Join<S::Stored>),
    shape: S,
    load: impl Future<Output = S::Output>,
) -> S::Output {
    // The first look was made already; the next ones, after a failed load, join again.
    let mut first = Some(join);
    let join = || first.take().unwrap_or_else(|| scope.join::<K, S::Stored>(site.id(), &key));
    match runner::turn::<R, _, _>(join, None, None::<fn()>).await {
        Turn::Value(value) => {
            site.hit();
            shape.rebuild(value)
        }
        Turn::Lead(Some(flight)) => {
            site.miss();
            site.load();
            let running = Arc::clone(&flight);
            // Built first: a load that panics abandons the flight, and a waiter takes over.
            let lead = Lead { scope: &scope, site: site.id(), key: &key, flight: Some(flight) };
            let output = RunsHere::new(&running, std::pin::pin!(load)).await;
            lead.finish(shape, output)
        }
        // The body calls itself with the same arguments (waiting would never end), or the
        // table cannot hold this site (`TimedOut` ends waits with a deadline only: none here).
        Turn::Run | Turn::Lead(None) | Turn::TimedOut => {
            site.load();
            load.await
        }
    }
}
