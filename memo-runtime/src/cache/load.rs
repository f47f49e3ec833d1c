//! The miss path: join or lead a flight, run the loader, store and publish its result.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tracing::Instrument;

use super::Cache;
use super::flight::{Flight, RunsHere, Waited};
use crate::outcome::{CacheKey, CacheValue, Outcome, Shape};
use crate::tags::Tag;

/// What a miss found when it looked for a flight.
pub(super) enum Join<'c, K: CacheKey, V: CacheValue> {
    /// A fresh entry appeared meanwhile.
    Hit(V),
    /// Nobody is loading the key: this call leads.
    Lead(Lead<'c, K, V>),
    /// Another call is loading it.
    Wait(Arc<Flight<V>>),
}

/// The leader's hold on a flight. Dropped without [`Lead::finish`] (error, panic,
/// cancellation), it abandons the flight so that a waiter takes over.
pub(super) struct Lead<'c, K: CacheKey, V: CacheValue> {
    cache: &'c Cache<K, V>,
    key: Option<K>,
    flight: Arc<Flight<V>>,
    epoch: u64,
    /// The tag invalidation sequence value when the load started.
    tag_seq: u64,
}

impl<K: CacheKey, V: CacheValue> Lead<'_, K, V> {
    /// The key being loaded.
    pub(super) fn key(&self) -> Option<&K> {
        self.key.as_ref()
    }

    /// The flight this call leads.
    pub(super) fn flight(&self) -> &Arc<Flight<V>> {
        &self.flight
    }

    /// Hands `value` to the waiters without storing it (it is stored already: a fail-safe
    /// answer).
    pub(super) fn answer(mut self, value: &V) {
        if let Some(key) = self.key.take() {
            self.detach(&key);
            self.flight.complete(value.clone());
        }
    }

    /// Stores the loaded value (unless invalidated meanwhile) and hands it to the waiters.
    pub(super) fn finish(mut self, value: &V, negative: bool, load_micros: u32, tags: Vec<Tag>) {
        let cache = self.cache;
        let Some(key) = self.key.take() else { return };
        {
            let mut w = cache.lock_writer();
            let current = !self.flight.is_invalidated() && cache.epoch.load(Ordering::Acquire) == self.epoch;
            if current && let Some(entry) = cache.new_entry(value.clone(), negative, load_micros, tags, self.tag_seq) {
                cache.write(&mut w, key.clone(), entry);
                drop(w);
                #[cfg(feature = "redis")]
                if let Some(remote) = cache.remote.get() {
                    (remote.stored)(cache, &remote.l2, &key);
                }
            }
        }
        self.detach(&key);
        self.flight.complete(value.clone());
    }

    /// Stores a prepared entry (unless invalidated meanwhile) and hands its value to the
    /// waiters: an entry read from the L2.
    #[cfg(feature = "redis")]
    pub(super) fn finish_with(mut self, value: &V, entry: crate::entry::Entry<V>) {
        let cache = self.cache;
        let Some(key) = self.key.take() else { return };
        {
            let mut w = cache.lock_writer();
            // What matters is how old the copy is, not when the read began: every invalidation
            // since (here or announced by another instance) raised the floors.
            let current = cache.l2_floors.admits(&key, entry.meta.created_at);
            if current && cache.epoch.load(Ordering::Acquire) == self.epoch {
                cache.write(&mut w, key.clone(), entry);
            }
        }
        self.detach(&key);
        self.flight.complete(value.clone());
    }

    /// Unregisters the flight if it is still the one registered for `key`.
    fn detach(&self, key: &K) {
        let mut flights = self.cache.lock_flights();
        if flights.get(key).is_some_and(|f| Arc::ptr_eq(f, &self.flight)) {
            flights.remove(key);
        }
    }
}

impl<K: CacheKey, V: CacheValue> Drop for Lead<'_, K, V> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.detach(&key);
            self.flight.abandon();
        }
    }
}

/// The `derive` of untagged loads.
pub(super) fn no_tags<V>(_: &V) -> Vec<Tag> {
    Vec::new()
}

/// Polls a future, catching its panics (fail-safe answers them like errors).
pub(super) struct CatchUnwind<F> {
    pub(super) inner: F,
}

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        let inner = &mut self.inner;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| std::pin::Pin::new(inner).poll(cx))) {
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Ok(std::task::Poll::Ready(output)) => std::task::Poll::Ready(Ok(output)),
            Err(panic) => std::task::Poll::Ready(Err(panic)),
        }
    }
}

impl<K: CacheKey, V: CacheValue> Cache<K, V> {
    /// A load panicked: answer from the fail-safe value, or let the panic go on.
    pub(super) fn panicked<S: Shape<Stored = V>>(
        &self,
        lead: Lead<'_, K, V>,
        shape: S,
        panic: Box<dyn std::any::Any + Send>,
    ) -> S::Output {
        self.load_errors.add(1);
        if let Some(value) = lead.key().and_then(|key| self.fail_safe(key, "the load panicked")) {
            lead.answer(&value);
            return shape.rebuild(value);
        }
        drop(lead);
        std::panic::resume_unwind(panic)
    }
}

impl<K: CacheKey, V: CacheValue> Cache<K, V> {
    /// Leads a load of `key` unless one is running: for background reloads of entries that
    /// are still servable.
    pub(super) fn lead_reload(&self, key: &K) -> Option<Lead<'_, K, V>> {
        let mut flights = self.lock_flights();
        if flights.contains_key(key) {
            return None;
        }
        Some(self.register(&mut flights, key))
    }

    fn register<'c>(
        &'c self,
        flights: &mut std::collections::HashMap<K, Arc<Flight<V>>, super::Hasher>,
        key: &K,
    ) -> Lead<'c, K, V> {
        let flight = Arc::new(Flight::new());
        flights.insert(key.clone(), Arc::clone(&flight));
        Lead {
            cache: self,
            key: Some(key.clone()),
            flight,
            epoch: self.epoch.load(Ordering::Acquire),
            tag_seq: crate::tags::sequence(),
        }
    }

    pub(super) fn join(&self, key: &K) -> Join<'_, K, V> {
        let mut flights = self.lock_flights();
        if let Some(flight) = flights.get(key) {
            return Join::Wait(Arc::clone(flight));
        }
        // A leader stores its value before it unregisters its flight: re-check under the lock.
        if let Some((value, _)) = self.peek_fresh(key) {
            return Join::Hit(value);
        }
        Join::Lead(self.register(&mut flights, key))
    }

    fn peek_fresh(&self, key: &K) -> Option<(V, bool)> {
        let now = crate::clock::now_millis_fast();
        self.map
            .peek_with(key, |_, e| {
                (now < e.meta.fresh_until && self.tags_valid(&e.meta)).then(|| (e.value.clone(), e.meta.negative))
            })
            .flatten()
    }

    /// Classifies a finished load, stores and publishes it, and returns the caller's output.
    /// An error is answered from the fail-safe value when there is one.
    pub(super) fn settle<S: Shape<Stored = V>>(
        &self,
        lead: Lead<'_, K, V>,
        shape: S,
        (mut tags, output): (Vec<Tag>, S::Output),
        derive: impl FnOnce(&V) -> Vec<Tag>,
        started: Instant,
    ) -> S::Output {
        let took = started.elapsed();
        self.record_load_time(took);
        let micros = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
        let (value, negative) = match shape.split(output) {
            Outcome::Positive(value) => (value, false),
            Outcome::Negative(value) => (value, true),
            Outcome::Error(output) => {
                self.load_errors.add(1);
                if let Some(value) = lead.key().and_then(|key| self.fail_safe(key, "the load failed")) {
                    lead.answer(&value);
                    return shape.rebuild(value);
                }
                drop(lead);
                return output;
            }
        };
        tags.extend(derive(&value));
        lead.finish(&value, negative, micros, tags);
        shape.rebuild(value)
    }

    /// Counts a finished load's duration, here and in the `metrics` histogram.
    pub(super) fn record_load_time(&self, took: std::time::Duration) {
        self.load_times.record(took);
        #[cfg(feature = "metrics")]
        crate::metrics::load_seconds(&self.policy.name, took);
    }

    /// The `tracing` span a load runs in: `memo.load` with the cache's name.
    pub(super) fn load_span(&self) -> tracing::Span {
        tracing::info_span!("memo.load", cache = %self.policy.name)
    }

    /// Runs a load with caching off ([`crate::enabled`]): counted and timed, not stored.
    pub(super) fn load_uncached<O>(&self, load: impl FnOnce() -> O) -> O {
        self.loads.add(1);
        let started = Instant::now();
        let output = self.load_span().in_scope(load);
        self.record_load_time(started.elapsed());
        output
    }

    /// A fresh hit rebuilt through `shape`, counting it; `None` on a miss (not counted).
    ///
    /// ```
    /// use memo_runtime::outcome::ResultShape;
    /// let cache: memo_runtime::Cache<u8, u32> = memo_runtime::Cache::builder().build();
    /// let shape = ResultShape::<u32, String>::default();
    /// assert_eq!(cache.hit(&1, shape), None);
    /// cache.insert(1, 10);
    /// assert_eq!(cache.hit(&1, shape), Some(Ok(10)));
    /// ```
    #[inline]
    pub fn hit<S: Shape<Stored = V>>(&self, key: &K, shape: S) -> Option<S::Output> {
        self.lookup(key).map(|(value, _)| shape.rebuild(value))
    }

    /// The value for `key` through `shape`: a fresh hit, or the loader's output, with
    /// concurrent misses on one key running `load` once.
    ///
    /// Errors are returned to this caller only and not stored; callers that waited on a load
    /// that failed, panicked or was cancelled retry, one of them loading again.
    ///
    /// ```
    /// use memo_runtime::outcome::ResultShape;
    /// let cache: memo_runtime::Cache<u8, u32> = memo_runtime::Cache::builder().build();
    /// let shape = ResultShape::<u32, String>::default();
    /// assert_eq!(cache.get_or_load(1, shape, || Err("down".to_string())), Err("down".to_string()));
    /// assert_eq!(cache.get_or_load(1, shape, || Ok(10)), Ok(10));
    /// assert_eq!(cache.get_or_load(1, shape, || Ok(99)), Ok(10), "stored");
    /// ```
    #[inline]
    pub fn get_or_load<S: Shape<Stored = V>>(&self, key: K, shape: S, load: impl FnOnce() -> S::Output) -> S::Output {
        if let Some((value, _)) = self.lookup(&key) {
            return shape.rebuild(value);
        }
        self.load_blocking(key, shape, no_tags, || (Vec::new(), load()))
    }

    /// [`get_or_load`](Self::get_or_load) for tagged entries: `load` returns the tags computed
    /// from the arguments with the output, and `derive` adds tags computed from the value.
    ///
    /// ```
    /// use memo_runtime::outcome::PlainShape;
    /// let cache: memo_runtime::Cache<u8, Vec<u32>> = memo_runtime::Cache::builder().build();
    /// let shape = PlainShape::<Vec<u32>>::default();
    /// let ids = cache.get_or_load_tagged(
    ///     1,
    ///     shape,
    ///     |ids| ids.iter().map(|id| format!("doc:item:{id}").into()).collect(),
    ///     || (vec!["doc:search".into()], vec![7, 8]),
    /// );
    /// assert_eq!(ids, vec![7, 8]);
    /// memo_runtime::invalidate_tag("doc:item:8");
    /// assert_eq!(cache.get(&1), None, "the search result carried the tag of item 8");
    /// ```
    #[inline]
    pub fn get_or_load_tagged<S: Shape<Stored = V>>(
        &self,
        key: K,
        shape: S,
        derive: impl FnOnce(&V) -> Vec<Tag>,
        load: impl FnOnce() -> (Vec<Tag>, S::Output),
    ) -> S::Output {
        if let Some((value, _)) = self.lookup(&key) {
            return shape.rebuild(value);
        }
        self.load_blocking(key, shape, derive, load)
    }

    #[inline(never)]
    pub(super) fn load_blocking<S: Shape<Stored = V>>(
        &self,
        key: K,
        shape: S,
        derive: impl FnOnce(&V) -> Vec<Tag>,
        load: impl FnOnce() -> (Vec<Tag>, S::Output),
    ) -> S::Output {
        self.misses.add(1);
        if !crate::enabled() {
            return self.load_uncached(|| load().1);
        }
        let mut waited = false;
        loop {
            match self.join(&key) {
                Join::Hit(value) => return shape.rebuild(value),
                Join::Lead(lead) => {
                    self.loads.add(1);
                    let started = Instant::now();
                    let span = self.load_span();
                    let flight = Arc::clone(lead.flight());
                    let load = || flight.run_here(|| span.in_scope(load));
                    let output = if self.policy.fallback_ms.is_some() {
                        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(load)) {
                            Ok(output) => output,
                            Err(panic) => return self.panicked(lead, shape, panic),
                        }
                    } else {
                        load()
                    };
                    return self.settle(lead, shape, output, derive, started);
                }
                Join::Wait(flight) => {
                    if flight.runs_here() {
                        // A recursive call on the key being loaded: waiting would deadlock.
                        self.loads.add(1);
                        return load().1;
                    }
                    if !std::mem::replace(&mut waited, true) {
                        self.coalesced.add(1);
                    }
                    if let Waited::Value(value) = flight.wait_blocking(None)
                        && !flight.is_invalidated()
                    {
                        return shape.rebuild(value);
                    }
                }
            }
        }
    }

    /// The async form of [`get_or_load`](Self::get_or_load). Dropping the returned future
    /// while it leads a load abandons that load; a waiting caller takes over.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use memo_runtime::outcome::OptionShape;
    /// let cache: memo_runtime::Cache<u8, Option<u32>> = memo_runtime::Cache::builder().build();
    /// let shape = OptionShape::<u32>::default();
    /// assert_eq!(cache.get_or_load_async(1, shape, async { Some(5) }).await, Some(5));
    /// assert_eq!(cache.get_or_load_async(1, shape, async { None }).await, Some(5));
    /// # }
    /// ```
    #[inline]
    pub async fn get_or_load_async<S: Shape<Stored = V>>(
        &self,
        key: K,
        shape: S,
        load: impl Future<Output = S::Output>,
    ) -> S::Output {
        if let Some((value, _)) = self.lookup(&key) {
            return shape.rebuild(value);
        }
        self.load_async(key, shape, load).await
    }

    /// The miss path of [`get_or_load_async`](Self::get_or_load_async), for callers that
    /// checked [`hit`](Self::hit) first: joins or leads a load of `key`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use memo_runtime::outcome::PlainShape;
    /// let cache: memo_runtime::Cache<u8, u32> = memo_runtime::Cache::builder().build();
    /// let shape = PlainShape::<u32>::default();
    /// let value = match cache.hit(&1, shape) {
    ///     Some(value) => value,
    ///     None => cache.load_async(1, shape, async { 7 }).await,
    /// };
    /// assert_eq!(value, 7);
    /// # }
    /// ```
    pub async fn load_async<S: Shape<Stored = V>>(
        &self,
        key: K,
        shape: S,
        load: impl Future<Output = S::Output>,
    ) -> S::Output {
        self.load_async_tagged(key, shape, no_tags, async { (Vec::new(), load.await) }).await
    }

    /// The async miss path for tagged entries; see [`get_or_load_tagged`](Self::get_or_load_tagged).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use memo_runtime::outcome::PlainShape;
    /// let cache: memo_runtime::Cache<u8, u32> = memo_runtime::Cache::builder().build();
    /// let shape = PlainShape::<u32>::default();
    /// let value = cache.load_async_tagged(1, shape, |_| Vec::new(), async { (vec!["doc:async".into()], 3) }).await;
    /// assert_eq!(value, 3);
    /// memo_runtime::invalidate_tag("doc:async");
    /// assert_eq!(cache.get(&1), None);
    /// # }
    /// ```
    pub async fn load_async_tagged<S: Shape<Stored = V>>(
        &self,
        key: K,
        shape: S,
        derive: impl FnOnce(&V) -> Vec<Tag>,
        load: impl Future<Output = (Vec<Tag>, S::Output)>,
    ) -> S::Output {
        self.misses.add(1);
        if !crate::enabled() {
            self.loads.add(1);
            let started = Instant::now();
            let output = load.instrument(self.load_span()).await.1;
            self.record_load_time(started.elapsed());
            return output;
        }
        let mut waited = false;
        loop {
            match self.join(&key) {
                Join::Hit(value) => return shape.rebuild(value),
                Join::Lead(lead) => {
                    self.loads.add(1);
                    let started = Instant::now();
                    let flight = Arc::clone(lead.flight());
                    let load = std::pin::pin!(load.instrument(self.load_span()));
                    let load = RunsHere::new(&flight, load);
                    let output = if self.policy.fallback_ms.is_some() {
                        match (CatchUnwind { inner: load }).await {
                            Ok(output) => output,
                            Err(panic) => return self.panicked(lead, shape, panic),
                        }
                    } else {
                        load.await
                    };
                    return self.settle(lead, shape, output, derive, started);
                }
                Join::Wait(flight) => {
                    if flight.runs_here() {
                        // A recursive call on the key being loaded: waiting would never end.
                        self.loads.add(1);
                        return load.await.1;
                    }
                    if !std::mem::replace(&mut waited, true) {
                        self.coalesced.add(1);
                    }
                    if let Waited::Value(value) = flight.wait(None).await
                        && !flight.is_invalidated()
                    {
                        return shape.rebuild(value);
                    }
                }
            }
        }
    }
}
