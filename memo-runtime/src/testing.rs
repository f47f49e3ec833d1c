//! Test utilities (feature `test-util`): drive the cache clock by hand.
//!
//! ```
//! use std::time::Duration;
//! use memo_runtime::{cached, testing::MockClock};
//!
//! #[cached(ttl = "5m")]
//! fn price(id: u32) -> u32 {
//!     id * 100
//! }
//!
//! fn main() {
//!     let clock = MockClock::install();
//!     price(1);
//!     clock.advance(Duration::from_secs(299));
//!     price(1);
//!     assert_eq!(price::stats().loads, 1, "still fresh after 4m59s");
//!     clock.advance(Duration::from_secs(1));
//!     price(1);
//!     assert_eq!(price::stats().loads, 2, "expired at 5m");
//! }
//! ```

use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::clock;

/// Serializes tests that drive the clock: the clock is one per process.
static EXCLUSIVE: Mutex<()> = Mutex::new(());

/// Manual control of the coarse clock that every cache reads, for deterministic tests of
/// time to live, jitter and stale windows.
///
/// The clock is process-wide, so only one `MockClock` exists at a time: [`install`] waits for
/// the previous one to be dropped, which serializes the tests that use it. Dropping it returns
/// the clock to real time. Tests that do not install one see real time, so keep time-driven
/// tests in their own test binary (one file under `tests/`), or run tests with nextest.
///
/// [`install`]: MockClock::install
#[derive(Debug)]
pub struct MockClock {
    _exclusive: MutexGuard<'static, ()>,
}

impl MockClock {
    /// Stops real time and starts manual time at the current instant.
    #[must_use]
    pub fn install() -> Self {
        let exclusive = EXCLUSIVE.lock().unwrap_or_else(PoisonError::into_inner);
        clock::ensure_started();
        clock::MANUAL.store(true, Ordering::Release);
        clock::set_manual(clock::precise_millis());
        Self { _exclusive: exclusive }
    }

    /// Moves time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        clock::set_manual(self.now_millis().saturating_add(by));
    }

    /// The current manual time, in milliseconds since the Unix epoch.
    #[must_use]
    pub fn now_millis(&self) -> u64 {
        clock::now_millis()
    }
}

impl Drop for MockClock {
    fn drop(&mut self) {
        clock::resume();
    }
}
