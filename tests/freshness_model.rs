//! A property test of freshness: random sequences of calls, clock advances, origin failures
//! and invalidations, checked against a reference model.
//!
//! Properties, for a cache with `ttl` 10 s, `stale` 5 s, `stale_if_error` 30 s and
//! `retry_after` 2 s:
//! - a call never returns a value older than `ttl + stale`, or older than `stale_if_error`
//!   when the origin failed during the value's life;
//! - a call never returns a value loaded before an invalidation of its key;
//! - a call returns an error only when the origin fails and no value young enough exists;
//! - the loader never runs twice at once for one key.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use memo_runtime::Cache;
use memo_runtime::outcome::ResultShape;
use memo_runtime::testing::MockClock;
use proptest::prelude::*;

const TTL: u64 = 10_000;
const STALE: u64 = 5_000;
const STALE_IF_ERROR: u64 = 30_000;
const KEYS: usize = 3;

/// `(version, loaded_at)`.
type Value = (u64, u64);

static CACHE: LazyLock<Cache<u8, Value>> = LazyLock::new(|| {
    Cache::builder()
        .ttl(Duration::from_millis(TTL))
        .stale(Duration::from_millis(STALE))
        .stale_if_error(Duration::from_millis(STALE_IF_ERROR))
        .retry_after(Duration::from_secs(2))
        .build()
});
static FAILING: AtomicBool = AtomicBool::new(false);
static VERSION: AtomicU64 = AtomicU64::new(0);
static RUNNING: [AtomicU32; KEYS] = [const { AtomicU32::new(0) }; KEYS];
static OVERLAP: AtomicBool = AtomicBool::new(false);

fn call(key: u8) -> Result<Value, String> {
    let shape = ResultShape::<Value, String>::default();
    CACHE.get_or_load(
        key,
        memo_runtime::Load::new(shape, move || {
            let running = &RUNNING[usize::from(key)];
            if running.fetch_add(1, Ordering::SeqCst) > 0 {
                OVERLAP.store(true, Ordering::SeqCst);
            }
            let output = if FAILING.load(Ordering::SeqCst) {
                Err("origin down".to_owned())
            } else {
                Ok((VERSION.fetch_add(1, Ordering::SeqCst), memo_runtime::clock::now_millis()))
            };
            running.fetch_sub(1, Ordering::SeqCst);
            output
        })
        .background(),
    )
}

#[derive(Debug, Clone)]
enum Op {
    Call(u8),
    Advance(u64),
    Fail(bool),
    Invalidate(u8),
    InvalidateAll,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..KEYS as u8).prop_map(Op::Call),
        4 => (0..9_000u64).prop_map(Op::Advance),
        1 => any::<bool>().prop_map(Op::Fail),
        1 => (0..KEYS as u8).prop_map(Op::Invalidate),
        1 => Just(Op::InvalidateAll),
    ]
}

/// What the model knows about one key.
#[derive(Default, Clone, Copy)]
struct Known {
    /// When the latest good value was loaded, if one may still be cached.
    latest_good: Option<u64>,
    /// Nothing loaded before this may be returned.
    invalidated_at: u64,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn calls_respect_staleness_bounds(ops in proptest::collection::vec(op(), 1..60)) {
        let clock = MockClock::install();
        CACHE.invalidate_all();
        FAILING.store(false, Ordering::SeqCst);
        OVERLAP.store(false, Ordering::SeqCst);
        let mut known = [Known::default(); KEYS];
        // The latest time the origin was failing: values loaded before it may be served up to
        // the stale_if_error age (answering the failure, then for the retry period after it).
        let mut failing_at: Option<u64> = None;
        for op in ops {
            let now = clock.now_millis();
            match op {
                Op::Advance(ms) => clock.advance(Duration::from_millis(ms)),
                Op::Fail(fail) => FAILING.store(fail, Ordering::SeqCst),
                Op::Invalidate(key) => {
                    CACHE.invalidate(&key);
                    known[usize::from(key)] = Known { latest_good: None, invalidated_at: now };
                }
                Op::InvalidateAll => {
                    CACHE.invalidate_all();
                    known = [Known { latest_good: None, invalidated_at: now }; KEYS];
                }
                Op::Call(key) => {
                    let k = &mut known[usize::from(key)];
                    match call(key) {
                        Ok((_, loaded_at)) => {
                            let age = now - loaded_at;
                            let failure_in_life = failing_at.is_some_and(|t| t >= loaded_at);
                            let bound = if failure_in_life { (TTL + STALE).max(STALE_IF_ERROR) } else { TTL + STALE };
                            prop_assert!(age <= bound, "age {age} ms over {bound} ms");
                            prop_assert!(loaded_at >= k.invalidated_at, "a value loaded before its invalidation");
                            k.latest_good = Some(k.latest_good.map_or(loaded_at, |t| t.max(loaded_at)));
                        }
                        Err(_) => {
                            prop_assert!(FAILING.load(Ordering::SeqCst), "an error while the origin is up");
                            if let Some(good) = k.latest_good {
                                prop_assert!(now - good >= STALE_IF_ERROR, "an error although a {} ms old value existed", now - good);
                            }
                        }
                    }
                }
            }
            // Background reloads land before the next step, so the model's clock is the cache's.
            prop_assert!(CACHE.wait_for_loads(Duration::from_secs(5)));
            if FAILING.load(Ordering::SeqCst) {
                failing_at = Some(clock.now_millis());
            }
        }
        prop_assert!(!OVERLAP.load(Ordering::SeqCst), "the loader ran twice at once for one key");
    }
}
