//! The miss path, written once for sync and async functions, loads in the call and in background mode: join
//! or lead a flight, run the body (here or apart from the caller, see [`Body`]), store its
//! result or answer from the stale-if-error value, and give up waiting at the timeout.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use std::pin::Pin;
use std::task::{Context, Poll};

use super::body::{Body, Detached, MakeLoad, Out};
use super::flight::{Flight, Joined, Running, Waited};
use super::fresh::Failure;
use super::runner::{Job, Runner};
use super::{Cache, Hold};
use crate::outcome::{CacheKey, CacheValue, Outcome, Shape};
use crate::switch::Reads;
use crate::tags::Tag;

/// What a miss found when it looked for a flight: a fresh entry that appeared meanwhile, the
/// lead, or another call's load.
pub(super) type Join<'c, K, V> = Joined<Lead<'c, K, V>, V>;

/// The leader's hold on a flight. Dropped without [`Lead::finish`] (error, panic,
/// cancellation), it abandons the flight so that a waiter takes over.
pub(super) struct Lead<'c, K: CacheKey, V: CacheValue> {
    cache: &'c Cache<K, V>,
    key: Option<K>,
    flight: Arc<Flight<V>>,
    epoch: u64,
    /// The tag invalidation sequence value when the load started.
    tag_seq: u64,
    /// How the calls the load makes read the caches (bypassed under [`crate::bypass`]).
    reads: Reads,
    /// What the tier beneath holds on the key for this load, handed back with its value.
    hold: Option<Hold>,
}

impl<'c, K: CacheKey, V: CacheValue> Lead<'c, K, V> {
    /// The cache the load is for.
    pub(super) fn cache(&self) -> &'c Cache<K, V> {
        self.cache
    }

    /// The same lead, held through a longer borrow of its cache: for a load that outlives the
    /// caller's borrow.
    pub(super) fn rebind<'s>(mut self, cache: &'s Cache<K, V>) -> Lead<'s, K, V> {
        debug_assert!(std::ptr::eq(self.cache, cache), "a lead moves to its own cache only");
        let (key, flight, hold) = (self.key.take(), Arc::clone(&self.flight), self.hold.take());
        Lead { cache, key, flight, epoch: self.epoch, tag_seq: self.tag_seq, reads: self.reads, hold }
    }

    /// The same lead, with the tier's hold on the key for its load.
    pub(super) fn holding(mut self, hold: Hold) -> Self {
        self.hold = Some(hold);
        self
    }

    /// The key being loaded.
    pub(super) fn key(&self) -> Option<&K> {
        self.key.as_ref()
    }

    /// The [id](Flight::id) of the flight this lead holds.
    pub(super) fn flight_id(&self) -> usize {
        self.flight.id()
    }

    /// Hands `value` to the waiters without storing it (it is stored already: a stale-if-error
    /// answer).
    pub(super) fn answer(mut self, value: &V) {
        if let Some(key) = self.key.take() {
            self.detach(&key);
            self.hand_over(value);
        }
    }

    /// Stores the loaded value (unless invalidated meanwhile) and hands it to the waiters.
    pub(super) fn finish(mut self, value: &V, negative: bool, load_micros: u32, tags: Vec<Tag>) {
        let cache = self.cache;
        let Some(key) = self.key.take() else { return };
        // Built before the lock is taken, to hold it for the write only.
        if let Some(entry) = cache.new_entry(value.clone(), negative, load_micros, tags, self.tag_seq) {
            let mut w = cache.lock_writer();
            if !self.flight.is_invalidated() && cache.epoch.load(Ordering::Acquire) == self.epoch {
                cache.write(&mut w, key.clone(), entry);
                drop(w);
                if let Some(tier) = cache.tier.get() {
                    tier.stored(cache, &key, self.hold.take());
                }
            }
        }
        self.detach(&key);
        self.hand_over(value);
    }

    /// Stores a prepared entry (unless invalidated meanwhile) and hands its value to the
    /// waiters: an entry read from the tier beneath.
    pub(super) fn finish_with(mut self, value: &V, entry: crate::entry::Entry<V>) {
        let cache = self.cache;
        let Some(key) = self.key.take() else { return };
        {
            let mut w = cache.lock_writer();
            // What matters is how old the copy is, not when the read began: every invalidation
            // since (here or announced by another instance) raised the floors, and a newer
            // value stored here meanwhile (a bypassing call's) stays.
            let created = entry.meta.created_at;
            let newer_here = cache.peek_entry(&key, |_, here| here.meta.created_at > created).unwrap_or(false);
            if cache.floors.admits(&key, created) && !newer_here && cache.epoch.load(Ordering::Acquire) == self.epoch {
                cache.write(&mut w, key.clone(), entry);
            }
        }
        self.detach(&key);
        self.hand_over(value);
    }

    /// Hands `value` to the callers waiting for the flight, which is unregistered: when no
    /// one but the leader holds it, no one can join it any more, and `value` is not cloned.
    fn hand_over(&self, value: &V) {
        // Waiters took their hold under the shard lock that unregistering took since.
        if Arc::strong_count(&self.flight) > 1 {
            self.flight.complete(value.clone());
        }
    }

    /// Unregisters the flight if it is still the one registered for `key`.
    fn detach(&self, key: &K) {
        let mut flights = self.cache.lock_flights(key);
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

/// A finished load, or its panic.
pub(super) type Caught<T> = std::thread::Result<T>;

/// A load's future as its flight's load: each poll runs in the `memo.load` span, marked as
/// the flight's load (see [`Flight::runs_here`]), in the load's [`Reads`] mode, its panics
/// caught (stale_if_error answers them like errors). One wrapper, so that each function's
/// body is wrapped in one generic type.
pub(super) struct Loading<'f, F> {
    span: tracing::Span,
    /// The [flight's id](Flight::id) and how the load reads, or none for a body that runs
    /// outside any flight (in the caller's mode).
    flight: Option<(usize, Reads)>,
    inner: Pin<&'f mut F>,
}

impl<'f, F: Future> Loading<'f, F> {
    pub(super) fn new<K: CacheKey, V: CacheValue>(
        span: tracing::Span,
        lead: Option<&Lead<'_, K, V>>,
        inner: Pin<&'f mut F>,
    ) -> Self {
        Self { span, flight: lead.map(|lead| (lead.flight.id(), lead.reads)), inner }
    }
}

impl<F: Future> Future for Loading<'_, F> {
    type Output = Caught<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let inner = &mut this.inner;
        guarded_poll(&this.span, this.flight, &mut |cx| inner.as_mut().poll(cx), cx)
    }
}

/// A poll of [`Loading`], compiled once per output type rather than once per body: the body's
/// poll is behind a reference to a trait object made for this poll only (so that the future
/// stays `Send` when the body is).
fn guarded_poll<X>(
    span: &tracing::Span,
    flight: Option<(usize, Reads)>,
    poll: &mut dyn FnMut(&mut Context<'_>) -> Poll<X>,
    cx: &mut Context<'_>,
) -> Poll<Caught<X>> {
    let _span = span.enter();
    let _running = flight.map(|(id, reads)| (Running::enter(id), reads.enter()));
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| poll(cx))) {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
        Err(panic) => Poll::Ready(Err(panic)),
    }
}

/// What a miss asks of the function's body: to lead the key's load, or to run in the caller
/// storing nothing (a load that calls itself, or caching off).
pub(super) enum Start<'c, K: CacheKey, V: CacheValue> {
    Lead(Lead<'c, K, V>),
    Run,
}

/// A body that runs in the caller. `load` returns the tags computed from the arguments with
/// the output; `derive` adds tags computed from the value.
pub(super) struct Inline<F, D> {
    pub(super) load: F,
    pub(super) derive: D,
}

impl<F, D> Inline<F, D> {
    pub(super) async fn start<K, V, S>(self, start: Start<'_, K, V>, shape: S) -> Waited<S::Output>
    where
        K: CacheKey,
        V: CacheValue,
        S: Shape<Stored = V>,
        F: Future<Output = (Vec<Tag>, S::Output)>,
        D: FnOnce(&V) -> Vec<Tag>,
    {
        match start {
            Start::Lead(lead) => match lead.cache().run_lead(lead, shape, self.derive, self.load).await {
                Ok(output) => Waited::Value(output),
                Err(panic) => std::panic::resume_unwind(panic),
            },
            Start::Run => Waited::Value(self.load.await.1),
        }
    }
}

/// A body that runs apart from the caller (another thread or task), so that the caller can
/// stop waiting at the timeout while the load goes on and stores its value.
pub(super) struct Apart<K: 'static, V: 'static, B> {
    pub(super) cache: &'static Cache<K, V>,
    pub(super) body: B,
}

impl<K: CacheKey, V: CacheValue, B: Detached<V>> Apart<K, V, B> {
    /// Not an `async fn`: the lead is handed to the job before the returned future exists,
    /// which then holds only the wait (and is `Send`; see [`Job`](super::runner::Job)).
    pub(super) fn start<R: Runner>(
        self,
        start: Start<'_, K, V>,
        timeout: Duration,
    ) -> impl Future<Output = Waited<Out<B, V>>> {
        let Self { cache, body } = self;
        let Body { shape, derive, make } = body.parts();
        let apart = match start {
            Start::Lead(lead) => {
                let lead = lead.rebind(cache);
                let job: Job<Caught<Out<B, V>>> =
                    Box::pin(async move { cache.run_lead(lead, shape, derive, make.make()).await });
                Ok(R::run_apart(job, timeout))
            }
            Start::Run => Err(make),
        };
        async move {
            match apart {
                Ok(apart) => match apart.await {
                    Waited::Value(Ok(output)) => Waited::Value(output),
                    Waited::Value(Err(panic)) => std::panic::resume_unwind(panic),
                    Waited::TimedOut => Waited::TimedOut,
                    Waited::Retry => Waited::Retry,
                },
                Err(make) => Waited::Value(make.make().await.1),
            }
        }
    }
}

impl<K: CacheKey, V: CacheValue> Cache<K, V> {
    /// Runs a leader's load (in a `memo.load` span, as its flight's load, panics caught) and
    /// settles it: every load, inline, apart or in the background, goes through here.
    pub(super) async fn run_lead<S: Shape<Stored = V>>(
        &self,
        lead: Lead<'_, K, V>,
        shape: S,
        derive: impl FnOnce(&V) -> Vec<Tag>,
        load: impl Future<Output = (Vec<Tag>, S::Output)>,
    ) -> Caught<S::Output> {
        let started = Instant::now();
        let output = Loading::new(self.load_span(), Some(&lead), std::pin::pin!(load)).await;
        self.settle(lead, shape, output, derive, started)
    }

    /// Classifies a finished load, stores and publishes it, and returns the caller's output.
    /// An error or a panic is answered from the stale-if-error value when there is one; otherwise
    /// the error is returned and the panic goes on.
    pub(super) fn settle<S: Shape<Stored = V>>(
        &self,
        lead: Lead<'_, K, V>,
        shape: S,
        output: Caught<(Vec<Tag>, S::Output)>,
        derive: impl FnOnce(&V) -> Vec<Tag>,
        started: Instant,
    ) -> Caught<S::Output> {
        let took = started.elapsed();
        self.record_load_time(took);
        let (mut tags, outcome) = match output {
            Ok((tags, output)) => (tags, shape.split(output)),
            Err(panic) => return self.failed(lead, shape, Failure::Panicked, Err(panic)),
        };
        let (value, negative) = match outcome {
            Outcome::Positive(value) => (value, false),
            Outcome::Negative(value) => (value, true),
            Outcome::Error(output) => return self.failed(lead, shape, Failure::Failed, Ok(output)),
        };
        tags.extend(derive(&value));
        lead.finish(&value, negative, micros(took), tags);
        Ok(shape.rebuild(value))
    }

    /// A load failed or panicked: the stale-if-error value answers when there is one.
    fn failed<S: Shape<Stored = V>>(
        &self,
        lead: Lead<'_, K, V>,
        shape: S,
        why: Failure,
        output: Caught<S::Output>,
    ) -> Caught<S::Output> {
        self.load_errors.add(1);
        if let Some(value) = lead.key().and_then(|key| self.stale_if_error_answer(key, why)) {
            lead.answer(&value);
            return Ok(shape.rebuild(value));
        }
        drop(lead);
        output
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

    /// Leads a load of `key` unless one is running: for background reloads of entries that
    /// are still servable.
    pub(super) fn lead_reload(&self, key: &K) -> Option<Lead<'_, K, V>> {
        let mut flights = self.lock_flights(key);
        if flights.contains_key(key) {
            return None;
        }
        Some(self.register(&mut flights, key))
    }

    fn register<'c>(&'c self, flights: &mut super::flight::Shard<K, V>, key: &K) -> Lead<'c, K, V> {
        let flight = Arc::new(Flight::new());
        flights.insert(key.clone(), Arc::clone(&flight));
        Lead {
            cache: self,
            key: Some(key.clone()),
            flight,
            epoch: self.epoch.load(Ordering::Acquire),
            tag_seq: crate::tags::sequence(),
            reads: Reads::current().for_load(),
            hold: None,
        }
    }

    /// The key's flight to wait for, or the lead of a new one. A call that bypasses the
    /// caches waits for no load that began before it: it leads a new one, and the one running
    /// (unless it is this call's own, calling itself) still answers its waiters but stores
    /// nothing.
    pub(super) fn join(&self, key: &K) -> Join<'_, K, V> {
        let mut flights = self.lock_flights(key);
        let reads = crate::switch::reads();
        if let Some(flight) = flights.get(key) {
            if reads || flight.runs_here() {
                return Join::Wait(Arc::clone(flight));
            }
            flight.invalidate();
        } else if reads {
            // A leader stores its value before it unregisters its flight: re-check under the lock.
            let now = crate::clock::now_millis_fast();
            let fresh = self.peek_entry(key, |_, e| self.judge(&e.meta, now).is_fresh().then(|| e.value.clone()));
            if let Some(value) = fresh.flatten() {
                return Join::Hit(value);
            }
        }
        Join::Lead(self.register(&mut flights, key))
    }
}

/// A load's duration in microseconds, saturating.
pub(super) fn micros(took: std::time::Duration) -> u32 {
    u32::try_from(took.as_micros()).unwrap_or(u32::MAX)
}
