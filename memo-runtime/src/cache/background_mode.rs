//! Loads that may outlive their caller: background reloads (stale-while-revalidate, early
//! refresh) and loads a caller stops waiting for at its timeout.
//!
//! Their loaders are `Send + 'static` (they run on another thread or task), which is why
//! `#[cached]` requires owned arguments with `stale`, `early_refresh` and `timeout`.

use std::time::Duration;

use super::Cache;
use super::body::{Body, Detached, MakeLoad, Out};
use super::call::Timeout;
use super::fresh::{Probe, Reload};
use super::load::{Apart, Inline};
use super::miss::Beneath;
use super::policy::Accept;
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
    pub(super) fn serve<R: Runner, B: Detached<V>>(&'static self, key: &K, body: B) -> Result<Out<B, V>, B> {
        if !crate::switch::reads() {
            return Err(body);
        }
        let shape = body.shape();
        match self.probe(key) {
            Probe::Fresh(value) => Ok(shape.rebuild(value)),
            Probe::Refresh(value, why) => {
                self.reload::<R, B>(key, body, why);
                Ok(shape.rebuild(value))
            }
            Probe::Miss => Err(body),
        }
    }

    /// A background-mode miss in L1: the tier beneath, if this runner reads it (whose stale
    /// entry answers while a reload runs), then the body, which loads apart from the caller
    /// when a timeout can end its wait, in the caller otherwise.
    pub(super) async fn background_miss<R: Runner, B: Detached<V>>(
        &'static self,
        key: K,
        body: B,
        on_timeout: Option<fn(LoadTimeout) -> Out<B, V>>,
    ) -> Out<B, V> {
        let (body, held) = if R::reads_tier() {
            match self.read_beneath(&key, Accept::Servable).await {
                Beneath::Fresh(value) => return body.shape().rebuild(value),
                Beneath::Stored => match self.serve::<R, B>(&key, body) {
                    Ok(output) => return output,
                    Err(body) => (body, None),
                },
                Beneath::Lead(lead) => (body, Some(lead)),
                Beneath::Nothing => (body, None),
            }
        } else {
            (body, None)
        };
        let shape = body.shape();
        let inline = |body: B| {
            let Body { derive, make, .. } = body.parts();
            Inline { load: make.make(), derive }
        };
        if !crate::enabled() {
            let body = inline(body);
            return self.miss::<R, B::Shape, _>(key, shape, move |start| body.start(start, shape), None, held).await;
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
                let apart = Apart { cache: self, body };
                self.miss::<R, B::Shape, _>(key, shape, move |start| apart.start::<R>(start, after), timeout, held)
                    .await
            }
            None => {
                let body = inline(body);
                self.miss::<R, B::Shape, _>(key, shape, move |start| body.start(start, shape), None, held).await
            }
        }
    }

    /// Starts a background reload of `key` unless one runs; counted when it starts. When
    /// nothing can take it now, the servable value answers and a later call reloads.
    fn reload<R: Runner, B: Detached<V>>(&'static self, key: &K, body: B, why: Reload) {
        let Some(lead) = self.lead_reload(key) else { return };
        let Body { shape, derive, make } = body.parts();
        if R::spawn(Box::pin(async move { drop(self.run_lead(lead, shape, derive, make.make()).await) })) {
            self.calls.load();
            if why == Reload::Early {
                self.early_refreshes.add(1);
            }
        }
    }
}
