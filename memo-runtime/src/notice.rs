//! Log lines for events that can repeat thousands of times a second (stale-if-error answers, timeouts,
//! refused L2 operations): the first is logged at once, the ones that follow are counted, and
//! the first after [`PERIOD`] is logged with how many there were. At most one line per period.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The shortest time between two lines of one notice.
pub(crate) const PERIOD: Duration = Duration::from_secs(10);

/// One kind of event of one cache (or one L2).
#[derive(Debug, Default)]
pub(crate) struct Notice {
    /// When the last line was logged (coarse clock, ms); 0: never.
    logged_at: AtomicU64,
    /// Events since then that were not logged.
    unlogged: AtomicU64,
}

impl Notice {
    pub(crate) const fn new() -> Self {
        Self { logged_at: AtomicU64::new(0), unlogged: AtomicU64::new(0) }
    }

    /// Records an event; `Some(n)` when a line is due now, for `n` events (this one and those
    /// not logged before it).
    pub(crate) fn due(&self) -> Option<u64> {
        let now = crate::clock::now_millis().max(1);
        let last = self.logged_at.load(Ordering::Acquire);
        let period = PERIOD.as_millis() as u64;
        if (last == 0 || now.saturating_sub(last) >= period)
            && self.logged_at.compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire).is_ok()
        {
            return Some(self.unlogged.swap(0, Ordering::AcqRel) + 1);
        }
        self.unlogged.fetch_add(1, Ordering::Relaxed);
        None
    }
}

#[cfg(all(test, feature = "test-util"))]
mod tests {
    use super::*;
    use crate::testing::MockClock;

    #[test]
    fn one_line_per_period_counting_the_events_it_covers() {
        let clock = MockClock::install();
        let notice = Notice::new();
        assert_eq!(notice.due(), Some(1), "the first event is logged");
        for _ in 0..999 {
            assert_eq!(notice.due(), None);
        }
        clock.advance(PERIOD);
        assert_eq!(notice.due(), Some(1000), "the next line counts the 999 unlogged and itself");
        assert_eq!(notice.due(), None);
    }
}
