//! The loading API of [`Cache`] and the one loop every miss runs: join the key's flight or
//! lead it, wait (at most the timeout), retry when the load it waited for failed.

use tracing::Instrument;

use super::Cache;
use super::flight::Waited;
use super::fresh::Failure;
use super::load::{Inline, Join, Start, no_tags};
use super::runner::{self, Blocking, Runner, Tokio};
use crate::outcome::{CacheKey, CacheValue, Shape};
use crate::tags::Tag;

/// How long a caller waits for a load, and its answer when the wait ends first with no
/// fail-safe value.
pub(super) struct Timeout<O> {
    pub(super) after: std::time::Duration,
    pub(super) answer: fn(super::LoadTimeout) -> O,
}

impl<O> Clone for Timeout<O> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<O> Copy for Timeout<O> {}

impl<K: CacheKey, V: CacheValue> Cache<K, V> {
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
        self.get_or_load_tagged(key, shape, no_tags, || (Vec::new(), load()))
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

    /// A sync function's miss, loading in the caller.
    #[inline(never)]
    pub(super) fn load_blocking<S: Shape<Stored = V>>(
        &self,
        key: K,
        shape: S,
        derive: impl FnOnce(&V) -> Vec<Tag>,
        load: impl FnOnce() -> (Vec<Tag>, S::Output),
    ) -> S::Output {
        let body = Inline { load: async move { load() }, derive };
        runner::drive(self.miss::<Blocking, S, _>(key, shape, move |start| body.start(start, shape), None))
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
        let body = Inline { load, derive };
        self.miss::<Tokio, S, _>(key, shape, move |start| body.start(start, shape), None).await
    }

    /// The one miss loop. A call joins the key's flight or leads it; a leader starts `body`
    /// (see [`Start`]); a waiter takes the flight's value, or retries when the load failed,
    /// was abandoned or invalidated. With a `timeout`, waits end there and the call answers
    /// from the fail-safe value or with the timeout's answer, while the load goes on.
    pub(super) async fn miss<'c, R, S, Fut>(
        &'c self,
        key: K,
        shape: S,
        body: impl FnOnce(Start<'c, K, V>) -> Fut,
        timeout: Option<Timeout<S::Output>>,
    ) -> S::Output
    where
        R: Runner,
        S: Shape<Stored = V>,
        Fut: Future<Output = Waited<S::Output>>,
    {
        self.misses.add(1);
        if !crate::enabled() {
            return self.load_uncached(body(Start::Run)).await;
        }
        let after = timeout.map(|t| t.after);
        let mut body = Some(body);
        let mut waited = false;
        loop {
            let turn = match self.join(&key) {
                Join::Hit(value) => return shape.rebuild(value),
                Join::Lead(lead) => match body.take() {
                    Some(body) => {
                        self.loads.add(1);
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
                Join::Wait(flight) => {
                    if flight.runs_here()
                        && let Some(body) = body.take()
                    {
                        // A recursive call on the key being loaded: waiting would never end.
                        self.loads.add(1);
                        body(Start::Run).await
                    } else {
                        if !std::mem::replace(&mut waited, true) {
                            self.coalesced.add(1);
                        }
                        match R::wait(&flight, after).await {
                            Waited::Value(value) if !flight.is_invalidated() => Waited::Value(shape.rebuild(value)),
                            Waited::Value(_) | Waited::Retry => Waited::Retry,
                            Waited::TimedOut => Waited::TimedOut,
                        }
                    }
                }
            };
            match (turn, timeout) {
                (Waited::Value(output), _) => return output,
                (Waited::TimedOut, Some(timeout)) => return self.timed_out(&key, shape, timeout),
                (Waited::TimedOut | Waited::Retry, _) => {}
            }
        }
    }

    /// A call that stopped waiting at the timeout: the fail-safe value answers (and stays
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
        match self.fail_safe(key, Failure::TimedOut) {
            Some(value) => shape.rebuild(value),
            None => (timeout.answer)(super::LoadTimeout { after: timeout.after }),
        }
    }

    /// Runs a load with caching off ([`crate::enabled`]): counted and timed, not stored.
    async fn load_uncached<O>(&self, load: impl Future<Output = Waited<O>>) -> O {
        self.loads.add(1);
        let started = std::time::Instant::now();
        let output = load.instrument(self.load_span()).await;
        self.record_load_time(started.elapsed());
        match output {
            Waited::Value(output) => output,
            Waited::Retry | Waited::TimedOut => unreachable!("a body run in the caller returns its output"),
        }
    }
}
