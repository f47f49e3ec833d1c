//! What the L2 client counts: traffic and faults.

use std::sync::atomic::{AtomicU64, Ordering};

use super::RedisL2;

/// Counts of L2 traffic and faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct L2Stats {
    /// Reads that found an entry.
    pub hits: u64,
    /// Reads that found none.
    pub misses: u64,
    /// Values written.
    pub writes: u64,
    /// Operations that could not reach Redis (refused or dropped connections, timeouts).
    pub errors: u64,
    /// Operations Redis answered with an error (out of memory, for instance): Redis is up, so
    /// these do not open the breaker.
    pub refused: u64,
    /// Operations not attempted: the breaker was open, or too many waited on Redis already.
    pub skipped: u64,
    /// Values not written: the L2 was down or the write queue full.
    pub dropped: u64,
    /// Entries that did not decode (corrupt, truncated, other format): treated as misses.
    pub corrupt: u64,
    /// Values larger than the size limit: not written, or read no further than the limit.
    pub oversized: u64,
    /// Keys holding another Redis type than a string (a hash, a list): misses, overwritten by
    /// the next write.
    pub wrong_type: u64,
    /// Invalidations sent to Redis and the other instances.
    pub invalidations_sent: u64,
    /// Invalidations folded into coarser ones (a clear of their cache or of every tagged
    /// entry) because more waited for Redis than the outbox holds.
    pub invalidations_coarsened: u64,
    /// How many times the breaker opened.
    pub breaker_opened: u64,
    /// Operations let through while the breaker was open, to probe Redis.
    pub probes: u64,
}

#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) hits: AtomicU64,
    pub(super) misses: AtomicU64,
    pub(super) corrupt: AtomicU64,
    pub(super) oversized: AtomicU64,
    pub(super) wrong_type: AtomicU64,
}

impl RedisL2 {
    /// Traffic and fault counts.
    pub fn stats(&self) -> L2Stats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let gate = self.gate.stats();
        let (writes, dropped) = self.writes.counts();
        let (sent, coarsened) = self.outbox.counts();
        L2Stats {
            hits: get(&c.hits),
            misses: get(&c.misses),
            writes,
            errors: gate.errors,
            refused: gate.refused,
            skipped: gate.skipped,
            dropped,
            corrupt: get(&c.corrupt),
            oversized: get(&c.oversized),
            wrong_type: get(&c.wrong_type),
            invalidations_sent: sent,
            invalidations_coarsened: coarsened,
            breaker_opened: self.gate.breaker.times_opened(),
            probes: self.gate.breaker.probes(),
        }
    }

    pub(crate) fn count_corrupt(&self) {
        self.counters.corrupt.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_oversized(&self) {
        self.counters.oversized.fetch_add(1, Ordering::Relaxed);
    }
}
