//! Loads that may outlive their caller: background reloads (stale-while-revalidate, early
//! refresh) and loads a caller stops waiting for at its timeout.
//!
//! Their loaders are `Send + 'static` (they run on another thread or task), which is why
//! `#[cached]` requires owned arguments with `stale`, `early_refresh` and `timeout`.

use std::time::Duration;

use super::Cache;
use super::fresh::{Probe, Reload};
use super::load::{Apart, Inline, MakeLoad, SendDerive};
use super::miss::Timeout;
use super::miss::{Accept, Beneath};
use super::runner::Runner;
use crate::outcome::{CacheKey, CacheValue, Shape};

/// The error a timed-out call returns when there is no stale or stale-if-error value to answer
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
    /// A background-mode call's look at L1: the answer when a servable entry holds one (a
    /// stale entry, or one due for an early refresh, starts a background reload), else the
    /// body back for the miss.
    #[allow(clippy::type_complexity, reason = "the body, handed back")]
    pub(super) fn serve<R, S, D, M>(&'static self, key: &K, shape: S, derive: D, make: M) -> Result<S::Output, (D, M)>
    where
        R: Runner,
        S: Shape<Stored = V>,
        S::Output: Send + 'static,
        D: SendDerive<V>,
        M: MakeLoad<S::Output>,
    {
        if !crate::enabled() {
            return Err((derive, make));
        }
        match self.probe(key) {
            Probe::Fresh(value) => Ok(shape.rebuild(value)),
            Probe::Refresh(value, why) => {
                self.reload::<R, S, D, M>(key, shape, derive, make, why);
                Ok(shape.rebuild(value))
            }
            Probe::Miss => Err((derive, make)),
        }
    }

    /// A background-mode miss in L1: the tier beneath, if this runner reads it (whose stale
    /// entry answers while a reload runs), then the body, which loads apart from the caller
    /// when a timeout can end its wait, in the caller otherwise.
    pub(super) async fn background_miss<R, S, D, M>(
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
        D: SendDerive<V>,
        M: MakeLoad<S::Output>,
    {
        let (derive, make) = if R::reads_tier() {
            match self.read_beneath(&key, Accept::Servable).await {
                Beneath::Fresh(value) => return shape.rebuild(value),
                Beneath::Stored => match self.serve::<R, S, D, M>(&key, shape, derive, make) {
                    Ok(output) => return output,
                    Err(body) => body,
                },
                Beneath::Nothing => (derive, make),
            }
        } else {
            (derive, make)
        };
        let inline = |make: M, derive: D| Inline { load: make.make(), derive };
        if !crate::enabled() {
            let body = inline(make, derive);
            return self.miss::<R, S, _>(key, shape, move |start| body.start(start, shape), None).await;
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
                self.miss::<R, S, _>(key, shape, move |start| body.start::<R, S>(start, shape, after), timeout).await
            }
            None => {
                let body = inline(make, derive);
                self.miss::<R, S, _>(key, shape, move |start| body.start(start, shape), None).await
            }
        }
    }

    /// Starts a background reload of `key` unless one runs; counted when it starts. When
    /// nothing can take it now, the servable value answers and a later call reloads.
    fn reload<R, S, D, M>(&'static self, key: &K, shape: S, derive: D, make: M, why: Reload)
    where
        R: Runner,
        S: Shape<Stored = V>,
        S::Output: Send + 'static,
        D: SendDerive<V>,
        M: MakeLoad<S::Output>,
    {
        let Some(lead) = self.lead_reload(key) else { return };
        if R::spawn(Box::pin(async move { drop(self.run_lead(lead, shape, derive, make.make()).await) })) {
            self.loads.add(1);
            if why == Reload::Early {
                self.early_refreshes.add(1);
            }
        }
    }
}
