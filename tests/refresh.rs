//! Per-call freshness: a handle's `refresh` reloads one call now (and misses meanwhile wait
//! for it), and `bypass` makes every cached call in a future or closure read no cache while
//! still storing what it loads.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use memo_runtime::cached;
use tokio::sync::Notify;

/// The "database": the current version of every row.
static VERSION: AtomicU64 = AtomicU64::new(1);

#[cached(ttl = "1h")]
fn row(id: u64) -> (u64, u64) {
    (id, VERSION.load(Ordering::SeqCst))
}

#[test]
fn refresh_reloads_now_stores_and_returns_the_new_value() {
    assert_eq!(row(1), (1, 1));
    VERSION.store(2, Ordering::SeqCst);
    assert_eq!(row(1), (1, 1), "cached");
    assert_eq!(row::refresh(1), (1, 2), "reloaded");
    assert_eq!(row(1), (1, 2), "stored");
    let stats = row::stats();
    assert_eq!((stats.loads, stats.hits), (2, 2));
}

/// Loads started, and what holds the slow ones.
static STARTED: AtomicU32 = AtomicU32::new(0);
static RELEASE: Notify = Notify::const_new();
static SOURCE: AtomicU64 = AtomicU64::new(1);

/// Reads the source when its load starts; a load that read version 1 waits for `RELEASE`.
#[cached(ttl = "1h")]
async fn slow(id: u64) -> u64 {
    let version = SOURCE.load(Ordering::SeqCst);
    STARTED.fetch_add(1, Ordering::SeqCst);
    if version == 1 {
        RELEASE.notified().await;
    }
    id * 1_000 + version
}

/// Waits for a condition, at most `limit`.
async fn until(limit: Duration, what: &str, condition: impl Fn() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misses_during_a_refresh_wait_for_it_and_it_supersedes_an_older_load() {
    // Ten misses arrive while a refresh loads: one load for all of them.
    let refresh = tokio::spawn(slow::refresh(1));
    until(Duration::from_secs(5), "the refresh's load started", || STARTED.load(Ordering::SeqCst) == 1).await;
    let callers: Vec<_> = (0..10).map(|_| tokio::spawn(slow(1))).collect();
    until(Duration::from_secs(5), "the callers wait", || slow::stats().coalesced == 10).await;
    RELEASE.notify_waiters();
    assert_eq!(refresh.await.unwrap(), 1_001);
    for caller in callers {
        assert_eq!(caller.await.unwrap(), 1_001);
    }
    assert_eq!(slow::stats().loads, 1);

    // A load that read the old row is running when the row changes and the key is refreshed:
    // the refresh does not wait for it, and its older value answers its own callers only.
    slow::invalidate(&2);
    let older = tokio::spawn(slow(2));
    until(Duration::from_secs(5), "the older load started", || STARTED.load(Ordering::SeqCst) == 2).await;
    SOURCE.store(2, Ordering::SeqCst);
    let refreshed = tokio::time::timeout(Duration::from_secs(5), slow::refresh(2)).await;
    assert_eq!(refreshed.expect("the refresh waited for the older load"), 2_002, "loaded anew");
    RELEASE.notify_waiters();
    assert_eq!(older.await.unwrap(), 2_001);
    assert_eq!(slow(2).await, 2_002, "the older load's value was not stored over the refresh's");
    assert_eq!(slow::stats().loads, 3);
}

static OUTER_LOADS: AtomicU32 = AtomicU32::new(0);
static INNER_LOADS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = "1h")]
async fn inner(id: u64) -> u64 {
    INNER_LOADS.fetch_add(1, Ordering::SeqCst);
    id + 1
}

#[cached(ttl = "1h")]
async fn outer(id: u64) -> u64 {
    OUTER_LOADS.fetch_add(1, Ordering::SeqCst);
    inner(id).await * 10
}

fn loads() -> (u32, u32) {
    (OUTER_LOADS.load(Ordering::SeqCst), INNER_LOADS.load(Ordering::SeqCst))
}

#[tokio::test]
async fn a_bypass_reaches_the_calls_its_loads_make_and_a_refresh_only_its_own() {
    assert_eq!(outer(1).await, 20);
    assert_eq!(loads(), (1, 1));
    assert_eq!(memo_runtime::bypass(outer(1)).await, 20);
    assert_eq!(loads(), (2, 2), "both functions loaded again");
    assert_eq!(outer(1).await, 20);
    assert_eq!(loads(), (2, 2), "what the bypassed calls loaded was stored");
    assert_eq!(outer::refresh(1).await, 20);
    assert_eq!(loads(), (3, 2), "the refresh reloaded its own call; the one its load made was a hit");
}

static SQUARES: AtomicU32 = AtomicU32::new(0);

#[cached]
fn square(x: u64) -> u64 {
    SQUARES.fetch_add(1, Ordering::SeqCst);
    x * x
}

#[cached]
fn sum_of_squares(a: u64, b: u64) -> u64 {
    square(a) + square(b)
}

#[test]
fn a_sync_bypass_loads_every_call_in_it_and_ends_with_the_closure() {
    assert_eq!(sum_of_squares(2, 3), 13);
    assert_eq!(SQUARES.load(Ordering::SeqCst), 2);
    assert_eq!(memo_runtime::sync_bypass(|| sum_of_squares(2, 3) + square(2)), 17);
    assert_eq!(SQUARES.load(Ordering::SeqCst), 5, "each call in the closure loaded");
    assert_eq!(sum_of_squares(2, 3), 13);
    assert_eq!(SQUARES.load(Ordering::SeqCst), 5, "after it, hits again");
    assert_eq!(sum_of_squares::stats().loads, 2);
}
