//! Time to live, jitter and negative time to live, driven by the mock clock (no sleeps).
//!
//! Every test here installs a `MockClock`, which serializes them: the clock is per process.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use memo_runtime::cached;
use memo_runtime::testing::MockClock;

static TTL_LOADS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 10)]
fn ten_seconds(id: u32) -> u32 {
    TTL_LOADS.fetch_add(1, Ordering::SeqCst);
    id
}

#[test]
fn a_value_is_fresh_until_its_ttl_and_reloaded_after() {
    let clock = MockClock::install();
    ten_seconds(1);
    clock.advance(Duration::from_millis(9_999));
    ten_seconds(1);
    assert_eq!(TTL_LOADS.load(Ordering::SeqCst), 1, "fresh at 9.999 s");
    clock.advance(Duration::from_millis(1));
    ten_seconds(1);
    assert_eq!(TTL_LOADS.load(Ordering::SeqCst), 2, "expired at 10 s");
    ten_seconds(1);
    assert_eq!(TTL_LOADS.load(Ordering::SeqCst), 2, "the reload is cached again");
}

static MS_LOADS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = "250ms")]
async fn quarter_second(id: u32) -> u32 {
    MS_LOADS.fetch_add(1, Ordering::SeqCst);
    id
}

#[tokio::test]
async fn string_durations_with_units() {
    let clock = MockClock::install();
    quarter_second(1).await;
    clock.advance(Duration::from_millis(249));
    quarter_second(1).await;
    assert_eq!(MS_LOADS.load(Ordering::SeqCst), 1);
    clock.advance(Duration::from_millis(1));
    quarter_second(1).await;
    assert_eq!(MS_LOADS.load(Ordering::SeqCst), 2);
}

static JITTER_LOADS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 10, jitter = 10, capacity = 5_000)]
fn jittered(id: u32) -> u32 {
    JITTER_LOADS.fetch_add(1, Ordering::SeqCst);
    id
}

/// Reloads every key and returns how many loads that took.
fn sweep() -> u32 {
    let before = JITTER_LOADS.load(Ordering::SeqCst);
    for id in 0..1_000 {
        jittered(id);
    }
    JITTER_LOADS.load(Ordering::SeqCst) - before
}

#[test]
fn jitter_spreads_expiry_uniformly_over_the_window() {
    let clock = MockClock::install();
    assert_eq!(sweep(), 1_000, "all loaded at t = 0");
    clock.advance(Duration::from_millis(9_999));
    assert_eq!(sweep(), 0, "nothing expires before the ttl");

    // Keys loaded at t = 0 expire uniformly in [10 s, 20 s]; sample the fraction expired at
    // 12.5 s, 15 s and 17.5 s on fresh loads: 25 %, 50 %, 75 % (±6 % is beyond 4 sigma).
    let mut expired_fractions = Vec::new();
    for quarter in 1..=3u64 {
        jittered::invalidate_all();
        sweep();
        clock.advance(Duration::from_millis(10_000 + quarter * 2_500));
        expired_fractions.push(f64::from(sweep()) / 1_000.0);
    }
    for (fraction, expected) in expired_fractions.iter().zip([0.25, 0.5, 0.75]) {
        assert!(
            (fraction - expected).abs() < 0.06,
            "expired {fraction} where {expected} expected: {expired_fractions:?}"
        );
    }

    jittered::invalidate_all();
    sweep();
    clock.advance(Duration::from_millis(20_001));
    assert_eq!(sweep(), 1_000, "everything expired after ttl + jitter");
}

static NEG_LOADS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 60, negative_ttl = 5)]
fn find_user(id: u32) -> Result<Option<String>, String> {
    NEG_LOADS.fetch_add(1, Ordering::SeqCst);
    Ok((id == 1).then(|| "ada".to_owned()))
}

#[test]
fn negative_results_are_kept_for_the_negative_ttl_only() {
    let clock = MockClock::install();
    assert_eq!(find_user(1), Ok(Some("ada".into())));
    assert_eq!(find_user(2), Ok(None));
    assert_eq!(find_user(2), Ok(None));
    assert_eq!(NEG_LOADS.load(Ordering::SeqCst), 2);
    assert_eq!(find_user::stats().negative_hits, 1);

    clock.advance(Duration::from_secs(5));
    let _ = find_user(1);
    let _ = find_user(2);
    assert_eq!(NEG_LOADS.load(Ordering::SeqCst), 3, "the negative entry expired at 5 s, the positive did not");
}

static NO_NEG_LOADS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 60)]
fn find_user_no_negative(id: u32) -> Option<String> {
    NO_NEG_LOADS.fetch_add(1, Ordering::SeqCst);
    (id == 1).then(|| "ada".to_owned())
}

#[test]
fn without_negative_ttl_negative_results_are_not_kept() {
    let _clock = MockClock::install();
    assert_eq!(find_user_no_negative(2), None);
    assert_eq!(find_user_no_negative(2), None);
    assert_eq!(NO_NEG_LOADS.load(Ordering::SeqCst), 2);
    assert_eq!(find_user_no_negative::stats().entries, 0);
}

#[test]
fn entries_carry_their_metadata() {
    use memo_runtime::outcome::OptionShape;
    use memo_runtime::{Cache, Load};

    let clock = MockClock::install();
    let cache: Cache<u32, Option<u32>> =
        Cache::builder().ttl(Duration::from_secs(10)).negative_ttl(Duration::from_secs(2)).build();
    let now = clock.now_millis();
    let shape = OptionShape::default();
    cache.get_or_load(
        1,
        Load::new(shape, || {
            std::thread::sleep(Duration::from_millis(5));
            Some(1)
        }),
    );
    cache.get_or_load(2, Load::new(shape, || None));

    let positive = cache.entry_info(&1).expect("stored");
    assert_eq!(positive.created_at_millis, now);
    assert_eq!(positive.fresh_until_millis, now + 10_000);
    assert!(positive.load_time >= Duration::from_millis(5), "measured load time: {:?}", positive.load_time);
    assert!(!positive.negative);
    let negative = cache.entry_info(&2).expect("stored");
    assert!(negative.negative);
    assert_eq!(negative.fresh_until_millis, now + 2_000);
}

#[test]
fn eviction_removes_expired_entries_first_and_says_so() {
    use memo_runtime::Cache;

    let clock = MockClock::install();
    let cache: Cache<u32, u32> = Cache::builder().ttl(Duration::from_secs(1)).capacity(10).build();
    for key in 0..10 {
        cache.insert(key, key);
    }
    // Hit the first five so that, were they live, eviction would keep them over the rest.
    for key in 0..5 {
        assert_eq!(cache.get(&key), Some(key));
    }
    clock.advance(Duration::from_secs(1));
    for key in 10..20 {
        cache.insert(key, key);
    }
    let evictions = cache.stats().evictions;
    assert_eq!(evictions.expired, 10, "every expired entry went, hit or not");
    assert_eq!(evictions.size, 0, "no live entry had to make room");
    assert!((10..20).all(|key| cache.get(&key) == Some(key)));
}
