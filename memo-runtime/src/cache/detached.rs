//! Loads that may outlive their caller: background reloads (stale-while-revalidate, early
//! refresh) and loads a caller stops waiting for at its timeout.
//!
//! Their loaders are `Send + 'static` (they run on another thread or task), which is why
//! `#[cached]` requires owned arguments with `stale`, `early_refresh` and `timeout`.

use std::time::{Duration, Instant};

use tracing::Instrument;

use super::Cache;
use super::flight::Waited;
use super::fresh::Probe;
use super::load::{CatchUnwind, Join, Lead};
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
        match fallback {
            Some(value) => {
                self.fallbacks.add(1);
                tracing::warn!(cache = %self.policy.name, ?after, "the load timed out; answering with the last good value");
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
                if let Some(lead) = self.lead_reload(&key, false) {
                    self.count_reload(early);
                    let span = self.load_span();
                    spawn_thread(move || {
                        let started = Instant::now();
                        let output = span.in_scope(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(load)));
                        let _ = self.settle_caught(lead, shape, output, derive, started);
                    });
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
            let waited = match self.join(&key, false) {
                Join::Hit(value) => return shape.rebuild(value),
                Join::Lead(lead) => {
                    let Some((derive, load)) = pending.take() else {
                        drop(lead);
                        return self.timed_out(shape, fallback, timeout, on_timeout);
                    };
                    self.loads.add(1);
                    let (tx, rx) = std::sync::mpsc::sync_channel(1);
                    let span = self.load_span();
                    spawn_thread(move || {
                        let started = Instant::now();
                        let output = span.in_scope(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(load)));
                        let _ = tx.send(self.settle_caught(lead, shape, output, derive, started));
                    });
                    match rx.recv_timeout(timeout) {
                        Ok(Ok(output)) => return output,
                        Ok(Err(panic)) => std::panic::resume_unwind(panic),
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Waited::TimedOut,
                        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Waited::Retry,
                    }
                }
                Join::Wait(flight) => {
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
                if let Ok(runtime) = tokio::runtime::Handle::try_current()
                    && let Some(lead) = self.lead_reload(&key, false)
                {
                    self.count_reload(early);
                    let span = self.load_span();
                    runtime.spawn(async move {
                        let started = Instant::now();
                        let output = CatchUnwind { inner: Box::pin(make().instrument(span)) }.await;
                        let _ = self.settle_caught(lead, shape, output, derive, started);
                    });
                }
                return shape.rebuild(value);
            }
            Probe::Miss(fallback) => fallback,
        };
        let runtime = tokio::runtime::Handle::try_current().ok();
        let timeout = self.policy.timeout.filter(|_| on_timeout.is_some() && runtime.is_some());
        let (Some(timeout), Some(on_timeout), Some(runtime)) = (timeout, on_timeout, runtime) else {
            return self.load_async_tagged(key, shape, derive, async move { make().await }).await;
        };
        self.misses.add(1);
        let mut pending = Some((derive, make));
        loop {
            let waited = match self.join(&key, false) {
                Join::Hit(value) => return shape.rebuild(value),
                Join::Lead(lead) => {
                    let Some((derive, make)) = pending.take() else {
                        drop(lead);
                        return self.timed_out(shape, fallback, timeout, on_timeout);
                    };
                    self.loads.add(1);
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    let span = self.load_span();
                    runtime.spawn(async move {
                        let started = Instant::now();
                        let output = CatchUnwind { inner: Box::pin(make().instrument(span)) }.await;
                        let _ = tx.send(self.settle_caught(lead, shape, output, derive, started));
                    });
                    match tokio::time::timeout(timeout, rx).await {
                        Ok(Ok(Ok(output))) => return output,
                        Ok(Ok(Err(panic))) => std::panic::resume_unwind(panic),
                        Ok(Err(_)) => Waited::Retry,
                        Err(_) => Waited::TimedOut,
                    }
                }
                Join::Wait(flight) => {
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
}

/// Runs `f` on a new thread; if no thread can be started, runs it here.
fn spawn_thread(f: impl FnOnce() + Send + 'static) {
    let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(f)));
    let theirs = std::sync::Arc::clone(&slot);
    let spawned = std::thread::Builder::new().name("memo-load".into()).spawn(move || {
        if let Some(f) = theirs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
            f();
        }
    });
    if spawned.is_err()
        && let Some(f) = slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    {
        f();
    }
}
