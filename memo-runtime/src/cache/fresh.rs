//! Freshness beyond the time to live: stale-while-revalidate, early refresh (XFetch) and
//! fail-safe answers for failed loads.

use std::sync::atomic::{AtomicU64, Ordering};

use super::Cache;
use crate::clock;
use crate::entry::{Entry, Meta};
use crate::outcome::{CacheKey, CacheValue};

/// What a call finds for a key when stale values and early refresh are in play.
pub(crate) enum Probe<V> {
    /// Fresh, no reload due.
    Fresh(V),
    /// Answer with this value and reload in the background: stale (`false`) or due for an
    /// early refresh (`true`).
    Refresh(V, bool),
    /// Nothing servable: load, falling back to this value if the load fails.
    Miss(Option<V>),
}

impl<K: CacheKey, V: CacheValue> Cache<K, V> {
    /// XFetch: whether a fresh entry should be reloaded now. One branch when early refresh is
    /// off; when on, a random draw only in the last stretch before expiry.
    #[inline(always)]
    pub(super) fn refresh_due(&self, meta: &Meta, now: u64) -> bool {
        match self.policy.early_refresh {
            None => false,
            Some(beta) => xfetch(meta, now, beta),
        }
    }

    /// Looks `key` up for a call that may serve stale values and start background reloads;
    /// counts hits, stale answers.
    pub(super) fn probe(&self, key: &K) -> Probe<V> {
        let now = clock::now_millis_fast();
        let probe = self
            .map
            .peek_with(key, |_, e| {
                if !self.tags_valid(&e.meta) {
                    return Probe::Miss(None);
                }
                if now < e.meta.fresh_until {
                    e.meta.touch();
                    return if self.refresh_due(&e.meta, now) {
                        Probe::Refresh(e.value.clone(), true)
                    } else {
                        Probe::Fresh(e.value.clone())
                    };
                }
                if now < e.meta.stale_until {
                    e.meta.touch();
                    return Probe::Refresh(e.value.clone(), false);
                }
                Probe::Miss((now < e.meta.fallback_until).then(|| e.value.clone()))
            })
            .unwrap_or(Probe::Miss(None));
        match &probe {
            Probe::Fresh(_) => self.hits.record(false),
            Probe::Refresh(_, early) => {
                self.hits.record(false);
                if !early {
                    self.stale_served.add(1);
                }
            }
            Probe::Miss(_) => {}
        }
        probe
    }

    /// What [`probe`](Self::probe) would find, without counting or touching anything.
    #[cfg_attr(not(feature = "redis"), allow(dead_code, reason = "used by the L2 read path only"))]
    pub(super) fn probe_quiet(&self, key: &K) -> Probe<()> {
        let now = clock::now_millis_fast();
        self.map
            .peek_with(key, |_, e| {
                if e.meta.tags_checked.load(Ordering::Relaxed) == crate::tags::INVALID {
                    Probe::Miss(None)
                } else if now < e.meta.stale_until {
                    Probe::Fresh(())
                } else {
                    Probe::Miss(None)
                }
            })
            .unwrap_or(Probe::Miss(None))
    }

    /// The fail-safe answer for a failed load of `key`: the stored value if it is young enough
    /// and not invalidated. Re-stored as fresh for the retry period, so that the source is
    /// tried at most once per key per period; counted and logged.
    pub(super) fn fail_safe(&self, key: &K, why: &str) -> Option<V> {
        self.policy.fallback_ms?;
        let now = clock::now_millis_fast();
        let kept = self
            .map
            .peek_with(key, |_, e| {
                let usable = now < e.meta.fallback_until && self.tags_valid(&e.meta);
                usable.then(|| {
                    // Never past the fail-safe age: the value answers as fresh until then at most.
                    let fresh_until = now.saturating_add(self.policy.retry_after_ms).min(e.meta.fallback_until);
                    Entry {
                        value: e.value.clone(),
                        meta: Meta {
                            created_at: e.meta.created_at,
                            fresh_until,
                            stale_until: fresh_until,
                            fallback_until: e.meta.fallback_until,
                            load_micros: e.meta.load_micros,
                            negative: e.meta.negative,
                            tags: e.meta.tags.clone(),
                            tag_seq: e.meta.tag_seq,
                            tags_checked: AtomicU64::new(e.meta.tags_checked.load(Ordering::Relaxed)),
                            generation: 0,
                            referenced: Default::default(),
                        },
                    }
                })
            })
            .flatten()?;
        let value = kept.value.clone();
        self.write(&mut self.lock_writer(), key.clone(), kept);
        self.fallbacks.add(1);
        if let Some(count) = self.fallback_log.due() {
            tracing::warn!(
                cache = %self.policy.name,
                count,
                "{why}; answering with the last good value (fail-safe; count: since the last such line)"
            );
        }
        Some(value)
    }
}

/// `now - delta * beta * ln(u) >= fresh_until`, with `delta` the measured load time.
fn xfetch(meta: &Meta, now: u64, beta: f64) -> bool {
    let delta_ms = f64::from(meta.load_micros) / 1_000.0 * beta;
    let gap_ms = meta.fresh_until.saturating_sub(now) as f64;
    // -ln(u) exceeds 30 with probability e^-30: no draw needed further from expiry.
    if delta_ms <= 0.0 || gap_ms > delta_ms * 30.0 {
        return false;
    }
    delta_ms * -crate::random::unit().ln() >= gap_ms
}
