//! The loading API of [`Cache`] and the one loop every miss runs: join the key's flight or
//! lead it, wait (at most the timeout), retry when the load it waited for failed.

use tracing::Instrument;

use super::call::{AsyncMode, Load, SyncMode, Timeout, no_tags};
use super::flight::{Turn, Waited};
use super::fresh::Failure;
use super::load::Lead;
use super::load::{Inline, Join, Start};
use super::policy::Accept;
use super::runner::{self, Blocking, Runner};
use super::{Cache, TierRead};
use crate::outcome::{CacheKey, CacheValue, Shape};
use crate::tags::Tag;

/// What the tier beneath had for a miss.
pub(super) enum Beneath<'c, K: CacheKey, V: CacheValue> {
    /// A fresh value, now in L1.
    Fresh(V),
    /// A stale but servable entry, now in L1.
    Stored,
    /// Nothing usable, and the tier holds the key for this call's load, which it leads.
    Lead(Lead<'c, K, V>),
    /// Nothing usable (or no tier): load.
    Nothing,
}

/// A call of a function whose load is its body alone (no tags, in the call): its cache, key
/// and shape, what `#[cached]` generates for a function without tags, stale values or
/// timeout. Its `get_or_run` methods are the call, whole, so that each function compiles one
/// function around its body (two for an `async fn`: the call and the poll of its future).
#[doc(hidden)]
#[derive(Debug)]
pub struct Keyed<K: CacheKey, S: Shape> {
    pub(super) cache: &'static Cache<K, S::Stored>,
    pub(super) key: K,
    pub(super) shape: S,
}

impl<K: CacheKey, S: Shape> Keyed<K, S> {
    /// The call of `key` on `cache`.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub fn new(cache: &'static Cache<K, S::Stored>, key: K, shape: S) -> Self {
        Self { cache, key, shape }
    }

    /// The value cached for the key, or `body`'s, stored.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub fn get_or_run(self, body: impl FnOnce() -> S::Output) -> S::Output {
        let Self { cache, key, shape } = self;
        if let Some((value, _)) = cache.lookup(&key) {
            return shape.rebuild(value);
        }
        cache.run_blocking(key, shape, body)
    }
}

impl<K: CacheKey, V: CacheValue> Cache<K, V> {
    /// The value for `key`: a fresh hit, or the output of `load`'s body run on this thread,
    /// with concurrent misses on one key running one body.
    ///
    /// Errors are returned to this caller only and not stored; callers that waited on a load
    /// that failed, panicked or was cancelled retry, one of them loading again. With
    /// [`Load::background`], stale values answer while a reload runs, and a call stops
    /// waiting at the [load timeout](super::CacheBuilder::timeout).
    ///
    /// ```
    /// use memo_runtime::{Cache, Load, outcome::ResultShape};
    /// let cache: Cache<u8, u32> = Cache::builder().build();
    /// let shape = ResultShape::<u32, String>::default();
    /// assert_eq!(cache.get_or_load(1, Load::new(shape, || Err("down".to_owned()))), Err("down".to_owned()));
    /// assert_eq!(cache.get_or_load(1, Load::new(shape, || Ok(10))), Ok(10));
    /// assert_eq!(cache.get_or_load(1, Load::new(shape, || Ok(99))), Ok(10), "stored");
    /// ```
    #[inline]
    pub fn get_or_load<'c, S, B, X, D, M>(&'c self, key: K, load: Load<S, B, X, D, M>) -> S::Output
    where
        S: Shape<Stored = V>,
        M: SyncMode<'c, K, V, S, B, X, D>,
    {
        M::run(self, key, load.shape, || load)
    }

    /// [`get_or_load`](Self::get_or_load) with the load made on a miss only, so that a hit
    /// writes nothing for it: what `#[cached]` generates.
    #[doc(hidden)]
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub fn get_or_make<'c, S, B, X, D, M>(
        &'c self,
        key: K,
        shape: S,
        load: impl FnOnce() -> Load<S, B, X, D, M>,
    ) -> S::Output
    where
        S: Shape<Stored = V>,
        M: SyncMode<'c, K, V, S, B, X, D>,
    {
        M::run(self, key, shape, load)
    }

    /// A sync miss of a load that is its body alone.
    #[inline(never)]
    fn run_blocking<S: Shape<Stored = V>>(&self, key: K, shape: S, body: impl FnOnce() -> S::Output) -> S::Output {
        let mut body = Some(body);
        self.run_blocking_erased(key, shape, &mut || match body.take() {
            Some(body) => body(),
            None => unreachable!("a miss runs its body once"),
        })
    }

    /// [`run_blocking`](Self::run_blocking) with the body erased: compiled once per shape.
    #[inline(never)]
    fn run_blocking_erased<S: Shape<Stored = V>>(
        &self,
        key: K,
        shape: S,
        body: &mut dyn FnMut() -> S::Output,
    ) -> S::Output {
        let no_tags: fn(&V) -> Vec<Tag> = no_tags::<V>;
        self.load_blocking_derived(key, shape, no_tags, &mut || (Vec::new(), body()))
    }

    /// A sync miss, loading in the caller.
    #[inline(never)]
    pub(super) fn load_blocking<S, B, X, D, M>(&self, key: K, load: Load<S, B, X, D, M>) -> S::Output
    where
        S: Shape<Stored = V>,
        S::Output: 'static,
        B: FnOnce() -> X,
        X: 'static,
        D: FnOnce(&V) -> Vec<Tag>,
    {
        let (shape, body, finish, derive, _) = load.into_parts();
        // Only this closure is compiled per function (it calls the body and a finish shared by
        // functions with the same output); what runs it, once per cache.
        let mut body = Some(move || finish.apply(body()));
        self.load_blocking_derived(key, shape, derive, &mut || match body.take() {
            Some(body) => body(),
            None => unreachable!("a miss runs its body once"),
        })
    }

    /// A sync miss with its body erased: compiled once per shape and `derive`.
    #[inline(never)]
    fn load_blocking_derived<S: Shape<Stored = V>, D: FnOnce(&V) -> Vec<Tag>>(
        &self,
        key: K,
        shape: S,
        derive: D,
        body: &mut dyn FnMut() -> (Vec<Tag>, S::Output),
    ) -> S::Output {
        let mut derive = Some(derive);
        let mut derive = move |value: &V| derive.take().map_or_else(Vec::new, |derive| derive(value));
        self.load_blocking_erased(key, shape, &mut derive, body)
    }

    /// The miss path of every sync function with this cache and shape: the body and the tags
    /// from the value behind references to trait objects, so that it is compiled once per
    /// cache type rather than once per function.
    #[inline(never)]
    fn load_blocking_erased<S: Shape<Stored = V>>(
        &self,
        key: K,
        shape: S,
        derive: &mut dyn FnMut(&V) -> Vec<Tag>,
        body: &mut dyn FnMut() -> (Vec<Tag>, S::Output),
    ) -> S::Output {
        // Called once at most: `miss` takes the body to run it.
        let load = std::pin::pin!(async move { body() });
        let body = Inline { load, derive };
        // Pinned where it is made: the miss's state is large, and moving it costs a copy.
        let miss =
            std::pin::pin!(self.miss::<Blocking, S, _>(key, shape, move |start| body.start(start, shape), None, None));
        runner::drive(miss)
    }

    /// The async form of [`get_or_load`](Self::get_or_load): `load`'s body is a future.
    /// Dropping the returned future while it leads a load abandons that load (a waiting
    /// caller takes over), unless the load runs in the background.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use memo_runtime::{Cache, Load, outcome::OptionShape};
    /// let cache: Cache<u8, Option<u32>> = Cache::builder().build();
    /// let shape = OptionShape::<u32>::default();
    /// assert_eq!(cache.get_or_load_async(1, Load::new(shape, async { Some(5) })).await, Some(5));
    /// assert_eq!(cache.get_or_load_async(1, Load::new(shape, async { None })).await, Some(5));
    /// # }
    /// ```
    pub async fn get_or_load_async<'c, S, F, X, D, M>(&'c self, key: K, load: Load<S, F, X, D, M>) -> S::Output
    where
        S: Shape<Stored = V>,
        S::Output: 'static,
        F: Future<Output = X>,
        X: 'static,
        D: FnOnce(&V) -> Vec<Tag>,
        M: AsyncMode<'c, K, V, S, F, X, D>,
    {
        self.get_or_make_async(key, load.shape, move || load).await
    }

    /// An async miss's look at the tier beneath, if one is attached: as the key's leader, its
    /// entry, if usable and `accept`ed, is stored here and handed to the callers waiting.
    pub(super) async fn read_beneath(&self, key: &K, accept: Accept) -> Beneath<'_, K, V> {
        let Some(tier) = self.tier.get().filter(|_| crate::switch::reads()) else { return Beneath::Nothing };
        tier.settle().await;
        let lead = match self.join(key) {
            // Another call's load stored its value as this one looked.
            Join::Hit(value) => {
                self.calls.miss();
                self.coalesced.add(1);
                return Beneath::Fresh(value);
            }
            // Someone in this process is already reading the tier or loading: wait with them.
            Join::Wait(_) => return Beneath::Nothing,
            Join::Lead(lead) => lead,
        };
        let TierRead { entry, hold } = tier.read(self, key, accept).await;
        let Some(entry) = entry else {
            return match hold {
                Some(hold) => Beneath::Lead(lead.holding(hold)),
                None => Beneath::Nothing,
            };
        };
        let verdict = self.policy.verdict(&entry.meta, crate::clock::now_millis_fast());
        let fresh = verdict.is_fresh();
        if !accept.takes(verdict) {
            return Beneath::Nothing;
        }
        let value = entry.value.clone();
        lead.finish_with(&value, entry);
        if fresh {
            self.l2_hits.add(1);
            Beneath::Fresh(value)
        } else {
            Beneath::Stored
        }
    }

    /// A call's turn at its key's flight in this cache (see [`runner::turn`]): counts the
    /// call as coalesced the first time it waits (`coalesced` remembers it across turns).
    pub(super) async fn turn<R: Runner>(
        &self,
        key: &K,
        after: Option<std::time::Duration>,
        coalesced: &mut bool,
    ) -> Turn<super::load::Lead<'_, K, V>, V> {
        let counted = *coalesced;
        let first_wait = (!counted).then_some(|| {
            *coalesced = true;
            self.coalesced.add(1);
        });
        runner::turn::<R, _, _>(|| self.join(key), after, first_wait).await
    }

    /// A miss with a body that may run apart from the caller: the flight loop; a leader starts
    /// `body` (see [`Start`]). With a `timeout`, waits end there and the call answers from the
    /// stale-if-error value or with the timeout's answer, while the load goes on.
    pub(super) async fn miss<'c, R, S, Fut>(
        &'c self,
        key: K,
        shape: S,
        body: impl FnOnce(Start<'c, K, V>) -> Fut,
        timeout: Option<Timeout<S::Output>>,
        held: Option<Lead<'c, K, V>>,
    ) -> S::Output
    where
        R: Runner,
        S: Shape<Stored = V>,
        Fut: Future<Output = Waited<S::Output>>,
    {
        self.calls.miss();
        if !crate::enabled() {
            return self.load_uncached(body(Start::Run)).await;
        }
        let after = timeout.map(|t| t.after);
        let mut body = Some(body);
        let mut coalesced = false;
        // A lead taken while reading the tier beneath is the first turn.
        let mut held = held;
        loop {
            let turn = match held.take() {
                Some(lead) => Turn::Lead(lead),
                None => self.turn::<R>(&key, after, &mut coalesced).await,
            };
            let turn = match turn {
                Turn::Value(value) => return shape.rebuild(value),
                Turn::TimedOut => Waited::TimedOut,
                Turn::Lead(lead) => match body.take() {
                    Some(body) => {
                        self.calls.load();
                        body(Start::Lead(lead)).await
                    }
                    // The body went to a load this call stopped waiting for, which ended
                    // without a value: give up as at the timeout. Only a body that runs apart
                    // (with a timeout) is ever given up on.
                    None => {
                        debug_assert!(timeout.is_some(), "a body run in the caller returns its output");
                        Waited::TimedOut
                    }
                },
                Turn::Run => match body.take() {
                    Some(body) => {
                        self.calls.load();
                        body(Start::Run).await
                    }
                    None => Waited::TimedOut,
                },
            };
            match (turn, timeout) {
                (Waited::Value(output), _) => return output,
                (Waited::TimedOut, Some(timeout)) => return self.timed_out(&key, shape, timeout),
                (Waited::TimedOut | Waited::Retry, _) => {}
            }
        }
    }

    /// A call that stopped waiting at the timeout: the stale-if-error value answers (and stays
    /// fresh for the retry period), else the timeout's answer.
    fn timed_out<S: Shape<Stored = V>>(&self, key: &K, shape: S, timeout: Timeout<S::Output>) -> S::Output {
        self.timeouts.add(1);
        if let Some(count) = self.timeout_log.due() {
            tracing::warn!(
                cache = %self.policy.name,
                after = ?timeout.after,
                count,
                "calls stopped waiting for a load at the timeout, answering with the last good value or a LoadTimeout error (count: since the last such line)"
            );
        }
        match self.stale_if_error_answer(key, Failure::TimedOut) {
            Some(value) => shape.rebuild(value),
            None => (timeout.answer)(super::LoadTimeout { after: timeout.after }),
        }
    }

    /// Runs a load with caching off ([`crate::enabled`]): counted and timed, not stored.
    async fn load_uncached<O>(&self, load: impl Future<Output = Waited<O>>) -> O {
        self.calls.load();
        let started = std::time::Instant::now();
        let output = load.instrument(self.load_span()).await;
        self.record_load_time(started.elapsed());
        match output {
            Waited::Value(output) => output,
            Waited::Retry | Waited::TimedOut => unreachable!("a body run in the caller returns its output"),
        }
    }
}
