//! `warm`: every key loaded once, never more than `concurrency` loads at a time, and later
//! calls are hits.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use memo_runtime::cached;

static RUNNING: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

#[cached(ttl = "10m")]
async fn slow_square(x: u64) -> u64 {
    let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
    PEAK.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(5)).await;
    RUNNING.fetch_sub(1, Ordering::SeqCst);
    x * x
}

#[tokio::test]
async fn warms_every_key_at_most_concurrency_at_a_time() {
    let warmed = memo_runtime::warm(0..100, 8, slow_square).await;
    assert_eq!(warmed, 100);
    assert_eq!(PEAK.load(Ordering::SeqCst), 8, "eight at a time, not fewer, not more");
    assert_eq!(slow_square::stats().loads, 100);
    for x in 0..100 {
        assert_eq!(slow_square(x).await, x * x);
    }
    let stats = slow_square::stats();
    assert_eq!((stats.loads, stats.hits), (100, 100), "warmed keys are hits");
    assert_eq!(memo_runtime::warm(0..100, 0, slow_square).await, 100, "0 is taken as 1; fresh keys are hits");
    assert_eq!(slow_square::stats().loads, 100);
}
