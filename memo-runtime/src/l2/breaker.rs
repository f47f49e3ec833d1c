//! A circuit breaker for the L2: after repeated failures to reach Redis, the L2 is skipped for
//! a cool-down, so a slow or dead Redis adds no latency; then one operation per cool-down
//! probes it, and the first success closes the breaker.
//!
//! Only failures to reach Redis count (timeouts, refused or dropped connections, a cluster
//! without a master for a slot). A reply that says no (out of memory, wrong type) comes from
//! a Redis that is up: it does not open the breaker, so failing writes cannot switch reads off.
//!
//! A refused or dropped connection says Redis is out of reach: `threshold` of them in a row
//! open the breaker. A timeout may only say that this process was too busy to read the answer
//! in time (a saturated runtime, or a machine whose other processes take the cores, delays the
//! connection's task, not Redis), so timeouts open it only when, besides, nothing succeeded for
//! a second (or twice the L2 timeout, if that is longer): a Redis that answers most operations
//! is not switched off for those that came back late. Until then, a call still costs at most
//! the L2 timeout.
//!
//! Each transition is logged once, at the same level both ways, with how long the L2 was off
//! and how many operations skipped it.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

use crate::clock;

/// Breaker state as reported in statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go to the L2.
    Closed,
    /// The L2 is skipped until the cool-down ends.
    Open,
    /// The cool-down is over: the next operation probes the L2.
    HalfOpen,
}

/// What [`Breaker::allow`] decided for one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pass {
    /// The breaker is closed.
    Closed,
    /// The one operation of this cool-down that tests whether Redis is back.
    Probe,
    /// The L2 is off: skip it.
    Refused,
}

/// How long timeouts must go on without a single success before they open the breaker.
pub(crate) fn patience(timeout: Duration) -> Duration {
    (timeout * 2).max(Duration::from_secs(1))
}

/// Opens after `threshold` consecutive failures; while open, lets one probe through per
/// `cooldown`.
#[derive(Debug)]
pub(crate) struct Breaker {
    /// Names the L2 in log lines.
    namespace: String,
    threshold: u32,
    cooldown_ms: u64,
    /// How long without any success timeouts must go on before they open the breaker.
    patience_ms: u64,
    failures: AtomicU32,
    /// The time of the last success, or of the breaker's creation: a new client's first
    /// timeouts get the same patience as later ones.
    last_success: AtomicU64,
    /// While `now < open_until` the breaker is open; 0: closed.
    open_until: AtomicU64,
    /// The earliest time of the next probe.
    next_probe: AtomicU64,
    /// When it last opened, for the log line that says it closed.
    opened_at: AtomicU64,
    opened: AtomicU64,
    probes: AtomicU64,
    refused: AtomicU64,
    /// Woken when the breaker closes: work that waited for Redis can go.
    closed: Notify,
}

impl Breaker {
    pub(crate) fn new(namespace: &str, threshold: u32, cooldown: Duration, patience: Duration) -> Self {
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Self {
            namespace: namespace.to_owned(),
            threshold: threshold.max(1),
            cooldown_ms: millis(cooldown).max(1),
            patience_ms: millis(patience),
            failures: AtomicU32::new(0),
            last_success: AtomicU64::new(clock::now_millis()),
            open_until: AtomicU64::new(0),
            next_probe: AtomicU64::new(0),
            opened_at: AtomicU64::new(0),
            opened: AtomicU64::new(0),
            probes: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            closed: Notify::new(),
        }
    }

    /// Whether an operation may use the L2 now.
    pub(crate) fn allow(&self) -> Pass {
        if self.open_until.load(Ordering::Acquire) == 0 {
            return Pass::Closed;
        }
        let now = clock::now_millis();
        let next = self.next_probe.load(Ordering::Acquire);
        // One probe per cool-down, whether or not it ever reports back.
        if now >= next
            && self
                .next_probe
                .compare_exchange(next, now.saturating_add(self.cooldown_ms), Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            self.probes.fetch_add(1, Ordering::Relaxed);
            return Pass::Probe;
        }
        self.refused.fetch_add(1, Ordering::Relaxed);
        Pass::Refused
    }

    /// Redis answered. Writes shared memory only when something changes (or once a
    /// millisecond, for the time of the last success).
    pub(crate) fn success(&self) {
        if self.failures.load(Ordering::Relaxed) != 0 {
            self.failures.store(0, Ordering::Release);
        }
        let now = clock::now_millis_fast();
        if self.last_success.load(Ordering::Relaxed) != now {
            self.last_success.store(now, Ordering::Release);
        }
        if self.open_until.load(Ordering::Acquire) != 0 && self.open_until.swap(0, Ordering::AcqRel) != 0 {
            let off = clock::now_millis().saturating_sub(self.opened_at.load(Ordering::Acquire));
            tracing::warn!(
                namespace = %self.namespace,
                off_ms = off,
                skipped = self.refused.swap(0, Ordering::Relaxed),
                "memo L2 reachable again; circuit breaker closed"
            );
            self.closed.notify_waiters();
        }
    }

    /// Redis could not be reached by an operation that `allow` let through with `pass`:
    /// `timed_out`, or refused. Returns whether the breaker is open now.
    pub(crate) fn failure(&self, pass: Pass, timed_out: bool, error: &str) -> bool {
        let failures = self.failures.fetch_add(1, Ordering::AcqRel).saturating_add(1);
        let now = clock::now_millis();
        if pass == Pass::Probe {
            // Still open (a late success may have closed it since): wait another cool-down.
            let open = self.open_until.load(Ordering::Acquire);
            if open != 0 {
                let until = now.saturating_add(self.cooldown_ms).max(1);
                return self.open_until.compare_exchange(open, until, Ordering::AcqRel, Ordering::Acquire).is_ok()
                    || self.open_until.load(Ordering::Acquire) != 0;
            }
        }
        let patient = timed_out && now.saturating_sub(self.last_success.load(Ordering::Acquire)) < self.patience_ms;
        if failures < self.threshold || patient {
            return self.open_until.load(Ordering::Acquire) != 0;
        }
        let until = now.saturating_add(self.cooldown_ms).max(1);
        // The probe time first: whoever sees the breaker open sees this cycle's probe time.
        self.next_probe.fetch_max(until, Ordering::AcqRel);
        if self.open_until.compare_exchange(0, until, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            self.opened_at.store(now, Ordering::Release);
            self.opened.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                namespace = %self.namespace,
                failures,
                error,
                cooldown_ms = self.cooldown_ms,
                "memo L2 unreachable; circuit breaker open: calls skip the L2, one probe per cool-down"
            );
        }
        true
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

    /// How many times it opened.
    pub(crate) fn times_opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    /// Operations let through while open, to probe.
    pub(crate) fn probes(&self) -> u64 {
        self.probes.load(Ordering::Relaxed)
    }

    pub(crate) fn cooldown(&self) -> Duration {
        Duration::from_millis(self.cooldown_ms)
    }

    /// Completes when the breaker closes next.
    pub(crate) async fn closes(&self) {
        self.closed.notified().await;
    }
}

#[cfg(all(test, feature = "test-util"))]
mod tests {
    use super::*;
    use crate::testing::MockClock;

    #[test]
    fn timeouts_open_it_only_after_a_stretch_without_any_success() {
        let clock = MockClock::install();
        let breaker = Breaker::new("unit", 3, Duration::from_secs(1), Duration::from_millis(100));
        breaker.success();
        for _ in 0..10 {
            assert!(!breaker.failure(Pass::Closed, true, "timed out"), "late answers of a busy process");
        }
        clock.advance(Duration::from_millis(100));
        assert!(breaker.failure(Pass::Closed, true, "timed out"), "100 ms without a success: Redis is silent");
    }

    #[test]
    fn a_new_clients_first_timeouts_get_the_same_patience() {
        let clock = MockClock::install();
        clock.advance(Duration::from_secs(60));
        let breaker = Breaker::new("unit", 3, Duration::from_secs(1), Duration::from_millis(100));
        for _ in 0..10 {
            assert!(!breaker.failure(Pass::Closed, true, "timed out"), "a busy process connecting");
        }
        clock.advance(Duration::from_millis(100));
        assert!(breaker.failure(Pass::Closed, true, "timed out"), "100 ms since it was made, no success");
    }

    #[test]
    fn opens_after_the_threshold_probes_once_per_cooldown_and_closes_on_success() {
        let clock = MockClock::install();
        let breaker = Breaker::new("unit", 3, Duration::from_secs(1), Duration::from_millis(100));
        for _ in 0..2 {
            assert!(!breaker.failure(Pass::Closed, false, "refused"));
            assert_eq!(breaker.allow(), Pass::Closed);
        }
        assert!(breaker.failure(Pass::Closed, false, "refused"));
        assert_eq!(breaker.state(), BreakerState::Open);
        assert_eq!(breaker.allow(), Pass::Refused);
        // Late failures of operations started before it opened do not push the probe back.
        breaker.failure(Pass::Closed, false, "refused");
        clock.advance(Duration::from_secs(1));
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert_eq!(breaker.allow(), Pass::Probe, "one probe");
        assert_eq!(breaker.allow(), Pass::Refused, "only one");
        breaker.failure(Pass::Probe, true, "timed out");
        assert_eq!(breaker.state(), BreakerState::Open);
        clock.advance(Duration::from_millis(999));
        assert_eq!(breaker.allow(), Pass::Refused, "the next probe waits a whole cool-down, not a doubled one");
        clock.advance(Duration::from_millis(1));
        assert_eq!(breaker.allow(), Pass::Probe);
        breaker.success();
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert_eq!(breaker.allow(), Pass::Closed);
        assert_eq!((breaker.times_opened(), breaker.probes()), (1, 2));
    }

    #[test]
    fn a_probe_that_never_reports_does_not_keep_the_breaker_open_for_ever() {
        let clock = MockClock::install();
        let breaker = Breaker::new("unit", 1, Duration::from_millis(500), Duration::ZERO);
        breaker.failure(Pass::Closed, true, "timed out");
        clock.advance(Duration::from_millis(500));
        assert_eq!(breaker.allow(), Pass::Probe); // its caller is cancelled: no report
        clock.advance(Duration::from_millis(500));
        assert_eq!(breaker.allow(), Pass::Probe, "another probe one cool-down later");
    }
}
