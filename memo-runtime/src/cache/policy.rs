//! How entries are kept: the settings a cache is built with, the one place that gives an entry
//! its times, and the one verdict every path asks of an entry (fresh, due for an early refresh,
//! stale but servable, or expired; and whether it may answer for a failed load).

use crate::entry::{Meta, Tags, Times};
use crate::tags::Tag;

/// How entries are kept: fixed when the cache is built.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    /// Shared: every load's `metrics` label clones it.
    pub(crate) name: std::sync::Arc<str>,
    pub(crate) version: u32,
    pub(crate) ttl_ms: Option<u64>,
    pub(crate) jitter_ms: u64,
    pub(crate) negative_ttl_ms: Option<u64>,
    pub(crate) capacity: usize,
    /// Stale-while-revalidate window after the time to live.
    pub(crate) stale_ms: u64,
    /// Stale-if-error: how old a value may be and still answer for a failed load.
    pub(crate) stale_if_error_ms: Option<u64>,
    /// After a failed load answered from the stale-if-error value, how long before the next try.
    pub(crate) retry_after_ms: u64,
    /// The most bytes kept, as the cache's weigher counts them; `None`: no byte bound.
    pub(crate) max_bytes: Option<u64>,
    /// XFetch's beta; `None`: no early refresh.
    pub(crate) early_refresh: Option<f64>,
    /// How long a caller waits for a load.
    pub(crate) timeout: Option<std::time::Duration>,
    /// An L2 for this cache alone; without it, distributed loads use the installed one.
    #[cfg(feature = "redis")]
    pub(crate) l2: Option<std::sync::Arc<crate::l2::redis::RedisL2>>,
    /// One load per key across the instances: how long the lock on a key being loaded lasts.
    #[cfg(feature = "redis")]
    pub(crate) fleet_lock: Option<std::time::Duration>,
}

/// Which entries of the tier beneath a call takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accept {
    /// Fresh ones only (a call whose load runs in the call).
    Fresh,
    /// Stale ones too, answered while a reload runs (a call whose load may outlive it).
    Servable,
}

impl Accept {
    /// Whether an entry with this verdict is taken.
    pub(crate) fn takes(self, verdict: Verdict) -> bool {
        verdict.is_fresh() || (self == Accept::Servable && verdict.is_servable())
    }
}

/// What an entry is good for at a given time (its tags aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Within its time to live.
    Fresh,
    /// Fresh, and drawn for an early refresh (XFetch): serve it and reload in the background.
    RefreshDue,
    /// Past its time to live, within the stale window: serve it and reload in the background.
    Stale,
    /// Not servable: load (a failed load may still fall back on it, see [`Policy::falls_back`]).
    Expired,
}

impl Verdict {
    /// Fresh, whether or not an early refresh is due.
    pub(crate) fn is_fresh(self) -> bool {
        matches!(self, Self::Fresh | Self::RefreshDue)
    }

    /// Servable now, fresh or stale.
    pub(crate) fn is_servable(self) -> bool {
        self != Self::Expired
    }
}

impl Policy {
    /// The verdict on an entry at `now`. One comparison for a fresh entry when early refresh
    /// is off; when on, a random draw only in the last stretch before expiry.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub(crate) fn verdict(&self, meta: &Meta, now: u64) -> Verdict {
        if now < meta.fresh_until() {
            match self.early_refresh {
                Some(beta) if xfetch(meta, now, beta) => Verdict::RefreshDue,
                _ => Verdict::Fresh,
            }
        } else if now < meta.stale_until() {
            Verdict::Stale
        } else {
            Verdict::Expired
        }
    }

    /// Whether the entry may answer for a failed or timed-out load (stale_if_error).
    pub(crate) fn falls_back(&self, meta: &Meta, now: u64) -> bool {
        self.stale_if_error_ms.is_some() && now < meta.stale_if_error_until()
    }

    /// The metadata of a value loaded or put at `now`, or `None` when this kind of value is
    /// not kept (a negative one without a negative time to live).
    pub(crate) fn new_meta(
        &self,
        now: u64,
        negative: bool,
        load_micros: u32,
        tags: Vec<Tag>,
        tag_seq: u64,
    ) -> Option<Meta> {
        let ttl = if negative { self.negative_ttl_ms? } else { self.ttl_ms.unwrap_or(u64::MAX) };
        let jitter = if ttl == u64::MAX { 0 } else { crate::random::up_to(self.jitter_ms) };
        let fresh_until = now.saturating_add(ttl).saturating_add(jitter);
        let times = Times {
            created_at: now,
            fresh_until,
            stale_until: fresh_until.saturating_add(self.stale_ms),
            stale_if_error_until: self.stale_if_error_ms.map_or(0, |f| now.saturating_add(f)),
        };
        Some(Meta::new(times, load_micros, negative, Tags::new(tags, tag_seq)))
    }

    /// The metadata of a value kept after a failed load answered with it: fresh for the retry
    /// period, so that the source is tried at most once per key per period, and never past
    /// the stale_if_error age.
    pub(crate) fn stale_if_error_meta(&self, meta: &Meta, now: u64) -> Meta {
        let fresh_until = now.saturating_add(self.retry_after_ms).min(meta.stale_if_error_until());
        let times = Times { fresh_until, stale_until: fresh_until, ..meta.times() };
        Meta::new(times, meta.load_micros(), meta.negative(), meta.tags.clone())
    }
}

/// `now - delta * beta * ln(u) >= fresh_until`, with `delta` the measured load time.
fn xfetch(meta: &Meta, now: u64, beta: f64) -> bool {
    let delta_ms = f64::from(meta.load_micros()) / 1_000.0 * beta;
    let gap_ms = meta.fresh_until().saturating_sub(now) as f64;
    // -ln(u) exceeds 30 with probability e^-30: no draw needed further from expiry.
    if delta_ms <= 0.0 || gap_ms > delta_ms * 30.0 {
        return false;
    }
    delta_ms * -crate::random::unit().ln() >= gap_ms
}
