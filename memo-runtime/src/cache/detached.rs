//! Loads that may outlive their caller: background reloads (stale-while-revalidate, early
//! refresh) and loads a caller stops waiting for at its timeout.
//!
//! Their loaders are `Send + 'static` (they run on another thread or task), which is why
//! `#[cached]` requires owned arguments with `stale`, `early_refresh` and `timeout`.

use std::time::{Duration, Instant};

use tracing::Instrument;

use std::sync::Arc;

use super::Cache;
use super::flight::{RunsHere, Waited};
use super::fresh::Probe;
use super::load::{CatchUnwind, Join, Lead};
use crate::background::{self, Job};
use crate::outcome::{CacheKey, CacheValue, Shape};
use crate::tags::Tag;

/// The error a timed-out call returns when there is no stale or fail-safe value to answer
/// with. A function with `#[cached(timeout = ...)]` returns `Result<T, E>` with
/// `E: From<LoadTimeout>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the load did not finish within {after:?}")]
pub struct LoadTimeout {
    /// The timeout that passed.
    pub after: Duration,
}

/// What a timed-out call can answer with: a return type that can express a timeout.
#[diagnostic::on_unimplemented(
    message = "`#[cached(timeout = ...)]` needs a `Result` whose error type can express a timeout, not `{Self}`",
    label = "a call that times out without a stale value returns an error of this type",
    note = "return `Result<T, E>` with `impl From<memo_runtime::LoadTimeout> for E` (anyhow::Error and Box<dyn Error + Send + Sync> have it)"
)]
pub trait FromTimeout {
    /// The output for a call that timed out.
    fn from_timeout(timeout: LoadTimeout) -> Self;
}

impl<T, E: From<LoadTimeout>> FromTimeout for Result<T, E> {
    fn from_timeout(timeout: LoadTimeout) -> Self {
        Err(E::from(timeout))
    }
}

type Caught<T> = std::thread::Result<T>;

impl<K: CacheKey, V: CacheValue> Cache<K, V> {
    /// Settles a load run apart from its caller: an error or panic is answered from the
    /// fail-safe value when there is one. Returns the output for the caller that waits on it.
    fn settle_caught<S: Shape<Stored = V>>(
        &self,
        lead: Lead<'_, K, V>,
        shape: S,
        output: Caught<(Vec<Tag>, S::Output)>,
        derive: impl FnOnce(&V) -> Vec<Tag>,
        started: Instant,
    ) -> Caught<S::Output> {
        match output {
            Ok(output) => Ok(self.settle(lead, shape, output, derive, started)),
            Err(panic) => {
                self.load_errors.add(1);
                if let Some(value) = lead.key().and_then(|key| self.fail_safe(key, "the load panicked")) {
                    lead.answer(&value);
                    return Ok(shape.rebuild(value));
                }
                drop(lead);
                Err(panic)
            }
        }
    }

    /// A call that stopped waiting: answer with the value it may fall back on, else a timeout
    /// error.
    fn timed_out<S: Shape<Stored = V>>(
        &self,
        shape: S,
        fallback: Option<V>,
        after: Duration,
        on_timeout: fn(LoadTimeout) -> S::Output,
    ) -> S::Output {
        self.timeouts.add(1);
        if let Some(count) = self.timeout_log.due() {
            tracing::warn!(
                cache = %self.policy.name,
                ?after,
                count,
                "calls stopped waiting for a load at the timeout, answering with the last good value or a LoadTimeout error (count: since the last such line)"
            );
        }
        match fallback {
            Some(value) => {
                self.fallbacks.add(1);
                shape.rebuild(value)
            }
            None => on_timeout(LoadTimeout { after }),
        }
    }

    /// The value for `key` with stale-while-revalidate, early refresh and the load timeout:
    /// [`get_or_load_tagged`](Self::get_or_load_tagged) for a `'static` cache and loader.
    ///
    /// `on_timeout` builds the output of a call that timed out with nothing to fall back on;
    /// without it, calls wait for the load however long it takes.
    ///
    /// ```
    /// use std::time::Duration;
    /// use std::sync::LazyLock;
    /// use memo_runtime::{Cache, outcome::PlainShape};
    ///
    /// static CACHE: LazyLock<Cache<u8, u32>> = LazyLock::new(|| {
    ///     Cache::builder()
    ///         .time_to_live(Duration::from_secs(60))
    ///         .stale_while_revalidate(Duration::from_secs(30))
    ///         .build()
    /// });
    /// let shape = PlainShape::<u32>::default();
    /// let value = CACHE.get_or_load_detached(1, shape, |_| Vec::new(), None, || (Vec::new(), 5));
    /// assert_eq!(value, 5);
    /// ```
    pub fn get_or_load_detached<S, D, L>(
        &'static self,
        key: K,
        shape: S,
        derive: D,
        on_timeout: Option<fn(LoadTimeout) -> S::Output>,
        load: L,
    ) -> S::Output
    where
        S: Shape<Stored = V>,
        S::Output: Send + 'static,
        D: FnOnce(&V) -> Vec<Tag> + Send + 'static,
        L: FnOnce() -> (Vec<Tag>, S::Output) + Send + 'static,
    {
        if !crate::enabled() {
            return self.load_blocking(key, shape, derive, load);
        }
        let fallback = match self.probe(&key) {
            Probe::Fresh(value) => return shape.rebuild(value),
            Probe::Refresh(value, early) => {
                if let Some(lead) = self.lead_reload(&key) {
                    let reload: Job = Box::new(move || drop(self.run_detached(lead, shape, derive, load)));
                    match background::spawn(reload) {
                        Ok(()) => self.count_reload(early),
                        // Every pool thread is busy: the stale value answers, a later call reloads.
                        Err(_) => {
                            tracing::debug!(cache = %self.policy.name, "background reload skipped: every load thread is busy")
                        }
                    }
                }
                return shape.rebuild(value);
            }
            Probe::Miss(fallback) => fallback,
        };
        let timeout = self.policy.timeout.filter(|_| on_timeout.is_some());
        let (Some(timeout), Some(on_timeout)) = (timeout, on_timeout) else {
            return self.load_blocking(key, shape, derive, load);
        };
        self.misses.add(1);
        let mut pending = Some((derive, load));
        loop {
            let waited = match self.join(&key) {
                Join::Hit(value) => return shape.rebuild(value),
                Join::Lead(lead) => {
                    let Some((derive, load)) = pending.take() else {
                        drop(lead);
                        return self.timed_out(shape, fallback, timeout, on_timeout);
                    };
                    self.loads.add(1);
                    let (tx, rx) = std::sync::mpsc::sync_channel(1);
                    let job: Job = Box::new(move || drop(tx.send(self.run_detached(lead, shape, derive, load))));
                    if let Err(job) = background::spawn(job) {
                        job(); // every pool thread is busy: this call loads, and waits for its load
                    }
                    match rx.recv_timeout(timeout) {
                        Ok(Ok(output)) => return output,
                        Ok(Err(panic)) => std::panic::resume_unwind(panic),
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Waited::TimedOut,
                        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Waited::Retry,
                    }
                }
                Join::Wait(flight) => {
                    if flight.runs_here()
                        && let Some((_, load)) = pending.take()
                    {
                        // A recursive call on the key being loaded: waiting would never end.
                        self.loads.add(1);
                        return load().1;
                    }
                    self.coalesced.add(1);
                    match flight.wait_blocking(Some(timeout)) {
                        Waited::Value(_) if flight.is_invalidated() => Waited::Retry,
                        waited => waited,
                    }
                }
            };
            match waited {
                Waited::Value(value) => return shape.rebuild(value),
                Waited::TimedOut => return self.timed_out(shape, fallback, timeout, on_timeout),
                Waited::Retry => {}
            }
        }
    }

    /// The async form of [`get_or_load_detached`](Self::get_or_load_detached): `make` builds
    /// the loader's future, which runs as a tokio task when it must outlive the caller.
    /// Without a tokio runtime, background reloads are skipped (the next miss loads).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// use std::sync::LazyLock;
    /// use memo_runtime::{Cache, outcome::ResultShape};
    ///
    /// static CACHE: LazyLock<Cache<u8, u32>> = LazyLock::new(|| {
    ///     Cache::builder().time_to_live(Duration::from_secs(60)).load_timeout(Duration::from_millis(50)).build()
    /// });
    /// let shape = ResultShape::<u32, memo_runtime::LoadTimeout>::default();
    /// let slow = || async {
    ///     tokio::time::sleep(Duration::from_secs(5)).await;
    ///     (Vec::new(), Ok(1))
    /// };
    /// let answer = CACHE.get_or_load_detached_async(1, shape, |_| Vec::new(), Some(Err), slow).await;
    /// assert!(answer.is_err(), "timed out after 50 ms");
    /// # }
    /// ```
    pub async fn get_or_load_detached_async<S, D, M, F>(
        &'static self,
        key: K,
        shape: S,
        derive: D,
        on_timeout: Option<fn(LoadTimeout) -> S::Output>,
        make: M,
    ) -> S::Output
    where
        S: Shape<Stored = V>,
        S::Output: Send + 'static,
        D: FnOnce(&V) -> Vec<Tag> + Send + 'static,
        M: FnOnce() -> F + Send + 'static,
        F: Future<Output = (Vec<Tag>, S::Output)> + Send + 'static,
    {
        if !crate::enabled() {
            return self.load_async_tagged(key, shape, derive, async move { make().await }).await;
        }
        let fallback = match self.probe(&key) {
            Probe::Fresh(value) => return shape.rebuild(value),
            Probe::Refresh(value, early) => {
                if let Some(lead) = self.lead_reload(&key)
                    && spawn_future(async move { drop(self.run_detached_async(lead, shape, derive, make).await) })
                {
                    self.count_reload(early);
                }
                return shape.rebuild(value);
            }
            Probe::Miss(fallback) => fallback,
        };
        let timeout = self.policy.timeout.filter(|_| on_timeout.is_some());
        let runtime = tokio::runtime::Handle::try_current().ok();
        let (Some(timeout), Some(on_timeout), Some(runtime)) = (timeout, on_timeout, runtime) else {
            if timeout.is_some() && !self.no_runtime_noted.swap(true, std::sync::atomic::Ordering::Relaxed) {
                tracing::warn!(
                    cache = %self.policy.name,
                    "`timeout` needs a tokio runtime to time the wait; outside one, calls of this function wait for their loads"
                );
            }
            return self.load_async_tagged(key, shape, derive, async move { make().await }).await;
        };
        self.misses.add(1);
        let mut pending = Some((derive, make));
        loop {
            let waited = match self.join(&key) {
                Join::Hit(value) => return shape.rebuild(value),
                Join::Lead(lead) => {
                    let Some((derive, make)) = pending.take() else {
                        drop(lead);
                        return self.timed_out(shape, fallback, timeout, on_timeout);
                    };
                    self.loads.add(1);
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    runtime
                        .spawn(async move { drop(tx.send(self.run_detached_async(lead, shape, derive, make).await)) });
                    match tokio::time::timeout(timeout, rx).await {
                        Ok(Ok(Ok(output))) => return output,
                        Ok(Ok(Err(panic))) => std::panic::resume_unwind(panic),
                        Ok(Err(_)) => Waited::Retry,
                        Err(_) => Waited::TimedOut,
                    }
                }
                Join::Wait(flight) => {
                    if flight.runs_here()
                        && let Some((_, make)) = pending.take()
                    {
                        // A recursive call on the key being loaded: waiting would never end.
                        self.loads.add(1);
                        return make().await.1;
                    }
                    self.coalesced.add(1);
                    match flight.wait(Some(timeout)).await {
                        Waited::Value(_) if flight.is_invalidated() => Waited::Retry,
                        waited => waited,
                    }
                }
            };
            match waited {
                Waited::Value(value) => return shape.rebuild(value),
                Waited::TimedOut => return self.timed_out(shape, fallback, timeout, on_timeout),
                Waited::Retry => {}
            }
        }
    }

    fn count_reload(&self, early: bool) {
        self.loads.add(1);
        if early {
            self.early_refreshes.add(1);
        }
    }

    /// Runs a load apart from its caller, as its flight's load: timed, panics caught, settled.
    fn run_detached<S, D, L>(
        &'static self,
        lead: Lead<'static, K, V>,
        shape: S,
        derive: D,
        load: L,
    ) -> Caught<S::Output>
    where
        S: Shape<Stored = V>,
        D: FnOnce(&V) -> Vec<Tag>,
        L: FnOnce() -> (Vec<Tag>, S::Output),
    {
        let started = Instant::now();
        let (flight, span) = (Arc::clone(lead.flight()), self.load_span());
        let output = flight.run_here(|| span.in_scope(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(load))));
        self.settle_caught(lead, shape, output, derive, started)
    }

    /// The async form of [`run_detached`](Self::run_detached).
    async fn run_detached_async<S, D, M, F>(
        &'static self,
        lead: Lead<'static, K, V>,
        shape: S,
        derive: D,
        make: M,
    ) -> Caught<S::Output>
    where
        S: Shape<Stored = V>,
        D: FnOnce(&V) -> Vec<Tag>,
        M: FnOnce() -> F,
        F: Future<Output = (Vec<Tag>, S::Output)>,
    {
        let started = Instant::now();
        let flight = Arc::clone(lead.flight());
        let load = std::pin::pin!(make().instrument(self.load_span()));
        let output = CatchUnwind { inner: RunsHere::new(&flight, load) }.await;
        self.settle_caught(lead, shape, output, derive, started)
    }
}

/// Runs a background load of an async function: as a task of the current tokio runtime, or,
/// outside one, on the load pool (see [`background`]); skipped (false) when the pool is
/// saturated.
fn spawn_future(load: impl Future<Output = ()> + Send + 'static) -> bool {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn(load)),
        Err(_) => {
            if background::spawn(Box::new(move || background::block_on(load))).is_err() {
                tracing::debug!("background reload skipped: every load thread is busy");
                return false;
            }
        }
    }
    true
}
