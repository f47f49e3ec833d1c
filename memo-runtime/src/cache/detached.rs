//! Loads that may outlive their caller: background reloads (stale-while-revalidate, early
//! refresh) and loads a caller stops waiting for at its timeout.
//!
//! Their loaders are `Send + 'static` (they run on another thread or task), which is why
//! `#[cached]` requires owned arguments with `stale`, `early_refresh` and `timeout`.

use std::time::Duration;

use super::Cache;
use super::fresh::{Probe, Reload};
use super::load::{Apart, Inline};
use super::miss::Timeout;
use super::runner::{self, Blocking, Runner, Tokio};
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

impl<K: CacheKey, V: CacheValue> Cache<K, V> {
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
        runner::drive(self.detached::<Blocking, S, D, _, _>(
            key,
            shape,
            derive,
            on_timeout,
            move || async move { load() },
        ))
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
        self.detached::<Tokio, S, D, M, F>(key, shape, derive, on_timeout, make).await
    }

    /// Both forms above: a servable entry answers (a stale one, or one due for an early
    /// refresh, starts a background reload); a miss loads apart from the caller when a
    /// timeout can end its wait, in the caller otherwise.
    async fn detached<R, S, D, M, F>(
        &'static self,
        key: K,
        shape: S,
        derive: D,
        on_timeout: Option<fn(LoadTimeout) -> S::Output>,
        make: M,
    ) -> S::Output
    where
        R: Runner,
        S: Shape<Stored = V>,
        S::Output: Send + 'static,
        D: FnOnce(&V) -> Vec<Tag> + Send + 'static,
        M: FnOnce() -> F + Send + 'static,
        F: Future<Output = (Vec<Tag>, S::Output)> + Send + 'static,
    {
        let inline = |make: M, derive: D| Inline { load: async move { make().await }, derive };
        if !crate::enabled() {
            let body = inline(make, derive);
            return self.miss::<R, S, _>(key, shape, move |start| body.start(start, shape), None).await;
        }
        match self.probe(&key) {
            Probe::Fresh(value) => return shape.rebuild(value),
            Probe::Refresh(value, why) => {
                self.reload::<R, S, D, M, F>(&key, shape, derive, make, why);
                return shape.rebuild(value);
            }
            Probe::Miss => {}
        }
        let mut timeout = self.policy.timeout.zip(on_timeout).map(|(after, answer)| Timeout { after, answer });
        if timeout.is_some() && !R::can_time() {
            if !self.no_runtime_noted.swap(true, std::sync::atomic::Ordering::Relaxed) {
                tracing::warn!(
                    cache = %self.policy.name,
                    "`timeout` needs a tokio runtime to time the wait; outside one, calls of this function wait for their loads"
                );
            }
            timeout = None;
        }
        match timeout {
            Some(Timeout { after, .. }) => {
                let body = Apart { cache: self, make, derive };
                self.miss::<R, S, _>(key, shape, move |start| body.start::<R, S, F>(start, shape, after), timeout).await
            }
            None => {
                let body = inline(make, derive);
                self.miss::<R, S, _>(key, shape, move |start| body.start(start, shape), None).await
            }
        }
    }

    /// Starts a background reload of `key` unless one runs; counted when it starts. When
    /// nothing can take it now, the servable value answers and a later call reloads.
    fn reload<R, S, D, M, F>(&'static self, key: &K, shape: S, derive: D, make: M, why: Reload)
    where
        R: Runner,
        S: Shape<Stored = V>,
        S::Output: Send + 'static,
        D: FnOnce(&V) -> Vec<Tag> + Send + 'static,
        M: FnOnce() -> F + Send + 'static,
        F: Future<Output = (Vec<Tag>, S::Output)> + Send + 'static,
    {
        let Some(lead) = self.lead_reload(key) else { return };
        if R::spawn(Box::pin(async move { drop(self.run_lead(lead, shape, derive, make()).await) })) {
            self.loads.add(1);
            if why == Reload::Early {
                self.early_refreshes.add(1);
            }
        }
    }
}
