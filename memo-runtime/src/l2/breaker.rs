//! A circuit breaker for the L2: after repeated failures the L2 is skipped for a while, so a
//! slow or dead Redis adds no latency; then one call probes it.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::clock;

/// Breaker state as reported in statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go to the L2.
    Closed,
    /// The L2 is skipped until the cool-down ends.
    Open,
    /// One probe is allowed through.
    HalfOpen,
}

/// Opens after `threshold` consecutive failures for a cool-down that doubles on every failed
/// probe, up to `max_cooldown`.
#[derive(Debug)]
pub(crate) struct Breaker {
    threshold: u32,
    base_cooldown_ms: u64,
    max_cooldown_ms: u64,
    failures: AtomicU32,
    /// While `now < open_until`, the breaker is open. 0: closed.
    open_until: AtomicU64,
    /// The current cool-down, doubled by each failed probe.
    cooldown_ms: AtomicU64,
    /// The time a probe was let through (one per cool-down).
    probing_since: AtomicU64,
}

impl Breaker {
    pub(crate) fn new(threshold: u32, cooldown: Duration, max_cooldown: Duration) -> Self {
        let base = u64::try_from(cooldown.as_millis()).unwrap_or(u64::MAX).max(1);
        Self {
            threshold: threshold.max(1),
            base_cooldown_ms: base,
            max_cooldown_ms: u64::try_from(max_cooldown.as_millis()).unwrap_or(u64::MAX).max(base),
            failures: AtomicU32::new(0),
            open_until: AtomicU64::new(0),
            cooldown_ms: AtomicU64::new(base),
            probing_since: AtomicU64::new(0),
        }
    }

    /// Whether a call may use the L2 now. When the cool-down is over, exactly one caller gets
    /// `true` (the probe) until it reports.
    pub(crate) fn allow(&self) -> bool {
        let open_until = self.open_until.load(Ordering::Acquire);
        if open_until == 0 {
            return true;
        }
        let now = clock::now_millis();
        if now < open_until {
            return false;
        }
        let probing = self.probing_since.load(Ordering::Acquire);
        // One probe per cool-down: the caller that moves `probing_since` to now goes.
        probing < open_until
            && self.probing_since.compare_exchange(probing, now, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    pub(crate) fn success(&self) {
        self.failures.store(0, Ordering::Release);
        if self.open_until.swap(0, Ordering::AcqRel) != 0 {
            self.cooldown_ms.store(self.base_cooldown_ms, Ordering::Release);
            tracing::info!("memo L2 reachable again; circuit breaker closed");
        }
    }

    pub(crate) fn failure(&self) {
        let failures = self.failures.fetch_add(1, Ordering::AcqRel) + 1;
        let open = self.open_until.load(Ordering::Acquire) != 0;
        if open || failures >= self.threshold {
            let cooldown = if open {
                // A failed probe: wait longer.
                let next = (self.cooldown_ms.load(Ordering::Acquire) * 2).min(self.max_cooldown_ms);
                self.cooldown_ms.store(next, Ordering::Release);
                next
            } else {
                tracing::warn!(failures, "memo L2 failing; circuit breaker open");
                self.cooldown_ms.load(Ordering::Acquire)
            };
            self.open_until.store(clock::now_millis().saturating_add(cooldown).max(1), Ordering::Release);
        }
    }

    pub(crate) fn state(&self) -> BreakerState {
        let open_until = self.open_until.load(Ordering::Acquire);
        if open_until == 0 {
            BreakerState::Closed
        } else if clock::now_millis() < open_until {
            BreakerState::Open
        } else {
            BreakerState::HalfOpen
        }
    }
}

#[cfg(all(test, feature = "test-util"))]
mod tests {
    use super::*;
    use crate::testing::MockClock;

    #[test]
    fn opens_after_the_threshold_probes_once_and_closes_on_success() {
        let clock = MockClock::install();
        let breaker = Breaker::new(3, Duration::from_secs(1), Duration::from_secs(8));
        for _ in 0..2 {
            breaker.failure();
            assert!(breaker.allow());
        }
        breaker.failure();
        assert_eq!(breaker.state(), BreakerState::Open);
        assert!(!breaker.allow());
        clock.advance(Duration::from_secs(1));
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert!(breaker.allow(), "one probe");
        assert!(!breaker.allow(), "only one");
        breaker.failure();
        clock.advance(Duration::from_secs(1));
        assert!(!breaker.allow(), "the cool-down doubled to 2 s");
        clock.advance(Duration::from_secs(1));
        assert!(breaker.allow());
        breaker.success();
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert!(breaker.allow() && breaker.allow());
    }
}
