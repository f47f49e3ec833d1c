//! The coarse clock that every cache reads on its hit path.
//!
//! Reading `Instant::now()` costs tens of nanoseconds, more than a whole cache hit should.
//! memo instead keeps the current time, in milliseconds since the Unix epoch, in one atomic
//! that a background thread (`memo-clock`) advances every millisecond. A hit reads it with a
//! single relaxed load, so expiry is precise to about a millisecond.
//!
//! The time is monotonic: it is the wall-clock time at start-up plus a monotonic elapsed time,
//! so it can be compared across processes (the L2 stores it) and never runs backwards.
//!
//! ```
//! let before = memo_runtime::clock::now_millis();
//! std::thread::sleep(std::time::Duration::from_millis(5));
//! assert!(memo_runtime::clock::now_millis() >= before);
//! ```
//!
//! Tests switch the clock to manual time with [`MockClock`](crate::testing::MockClock)
//! (feature `test-util`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Once, OnceLock};
use std::time::{Duration, Instant, SystemTime};

/// Milliseconds since the Unix epoch, as last published by the ticker (or set by a mock).
static NOW_MS: AtomicU64 = AtomicU64::new(0);
/// While `true` the ticker leaves `NOW_MS` alone: a test drives time by hand.
pub(crate) static MANUAL: AtomicBool = AtomicBool::new(false);
static START: Once = Once::new();

const TICK: Duration = Duration::from_millis(1);

/// The current coarse time in milliseconds since the Unix epoch.
///
/// Starts the ticker thread on first use. The hit path reads the same atomic directly once the
/// clock is known to run (every cache starts it when it is built).
pub fn now_millis() -> u64 {
    ensure_started();
    now_millis_fast()
}

/// The coarse time without checking that the ticker runs: one relaxed atomic load.
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn now_millis_fast() -> u64 {
    NOW_MS.load(Ordering::Relaxed)
}

static ORIGIN: OnceLock<(u64, Instant)> = OnceLock::new();

/// The precise time, read from the system: the wall clock at start-up plus monotonic elapsed.
pub(crate) fn precise_millis() -> u64 {
    let (wall, origin) = ORIGIN.get_or_init(|| {
        let wall = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        (wall, Instant::now())
    });
    wall + origin.elapsed().as_millis() as u64
}

/// Starts the ticker thread once per process.
pub(crate) fn ensure_started() {
    START.call_once(|| {
        if !MANUAL.load(Ordering::Acquire) {
            NOW_MS.store(precise_millis(), Ordering::Relaxed);
        }
        let spawned = std::thread::Builder::new().name("memo-clock".into()).spawn(|| {
            loop {
                std::thread::sleep(TICK);
                if !MANUAL.load(Ordering::Acquire) {
                    NOW_MS.store(precise_millis(), Ordering::Relaxed);
                }
            }
        });
        if spawned.is_err() {
            // Without a ticker, time stands still and entries would never expire.
            eprintln!("memo: could not start the clock thread; cached entries will not expire");
        }
    });
}

/// Sets the time by hand; used by the test utilities.
#[cfg(feature = "test-util")]
pub(crate) fn set_manual(millis: u64) {
    NOW_MS.store(millis, Ordering::Relaxed);
}

/// Returns the clock to real time; used by the test utilities.
#[cfg(feature = "test-util")]
pub(crate) fn resume() {
    MANUAL.store(false, Ordering::Release);
    NOW_MS.store(precise_millis(), Ordering::Relaxed);
}
