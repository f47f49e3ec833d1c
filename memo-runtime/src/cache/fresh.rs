//! Freshness beyond the time to live: what a call that may serve stale values finds, and the
//! stale-if-error answer for failed and timed-out loads. The rules themselves are the policy's
//! (see the `policy` module).

use super::Cache;
use super::policy::Verdict;
use crate::clock;
use crate::entry::Entry;
use crate::outcome::{CacheKey, CacheValue};

/// Why a load gets no value of its own, for the stale-if-error log line.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Failure {
    Failed,
    Panicked,
    TimedOut,
}

impl Failure {
    fn says(self) -> &'static str {
        match self {
            Self::Failed => "the load failed",
            Self::Panicked => "the load panicked",
            Self::TimedOut => "the load did not finish within the timeout",
        }
    }
}

/// What a call finds for a key when stale values and early refresh are in play.
pub(crate) enum Probe<V> {
    /// Fresh, no reload due.
    Fresh(V),
    /// Answer with this value and reload in the background.
    Refresh(V, Reload),
    /// Nothing servable: load.
    Miss,
}

/// Why a servable entry is reloaded in the background.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reload {
    /// It is stale (stale-while-revalidate).
    Stale,
    /// It is fresh and drawn for an early refresh (XFetch).
    Early,
}

impl<K: CacheKey, V: CacheValue> Cache<K, V> {
    /// Looks `key` up for a call that may serve stale values and start background reloads;
    /// counts hits, stale answers.
    pub(super) fn probe(&self, key: &K) -> Probe<V> {
        let now = clock::now_millis_fast();
        let probe = self
            .peek_entry(key, |_, e| {
                let verdict = self.judge(&e.meta, now);
                if verdict.is_servable() {
                    e.meta.touch();
                }
                match verdict {
                    Verdict::Fresh => Probe::Fresh(e.value.clone()),
                    Verdict::RefreshDue => Probe::Refresh(e.value.clone(), Reload::Early),
                    Verdict::Stale => Probe::Refresh(e.value.clone(), Reload::Stale),
                    Verdict::Expired => Probe::Miss,
                }
            })
            .unwrap_or(Probe::Miss);
        match &probe {
            Probe::Fresh(_) | Probe::Refresh(_, Reload::Early) => self.calls.hit(false),
            Probe::Refresh(_, Reload::Stale) => {
                self.calls.hit(false);
                self.stale_served.add(1);
            }
            Probe::Miss => {}
        }
        probe
    }

    /// The stale-if-error answer for a load of `key` that failed, panicked or timed out: the stored
    /// value if it is young enough and not invalidated. Re-stored as fresh for the retry
    /// period (see [`Policy::stale_if_error_meta`](super::policy::Policy::stale_if_error_meta)); counted
    /// and logged. The one place where a load's failure is answered with an old value.
    pub(super) fn stale_if_error_answer(&self, key: &K, why: Failure) -> Option<V> {
        self.policy.stale_if_error_ms?;
        let now = clock::now_millis_fast();
        let kept = self
            .peek_entry(key, |_, e| {
                (self.policy.falls_back(&e.meta, now) && self.tags_valid(&e.meta))
                    .then(|| Entry { value: e.value.clone(), meta: self.policy.stale_if_error_meta(&e.meta, now) })
            })
            .flatten()?;
        let value = kept.value.clone();
        self.write(&mut self.lock_writer(), key.clone(), kept);
        self.stale_if_error_served.add(1);
        if let Some(count) = self.stale_if_error_log.due() {
            tracing::warn!(
                cache = %self.policy.name,
                count,
                "{}; answering with the last good value (stale_if_error; count: since the last such line)",
                why.says()
            );
        }
        Some(value)
    }
}
