//! The kill switch: with caching off every kind of cached call runs its body, nothing is
//! stored, invalidations still apply, and turning it back on resumes caching. One test: the
//! switch is process-wide.

use std::sync::atomic::{AtomicU32, Ordering};

use memo_runtime::{cached, request_memo};

static PLAIN: AtomicU32 = AtomicU32::new(0);
static ASYNC: AtomicU32 = AtomicU32::new(0);
static STALE: AtomicU32 = AtomicU32::new(0);
static MEMO: AtomicU32 = AtomicU32::new(0);
static PRICE: AtomicU32 = AtomicU32::new(100);

#[cached(ttl = 60)]
fn plain(id: u64) -> u64 {
    PLAIN.fetch_add(1, Ordering::SeqCst);
    id
}

#[cached(ttl = 60, tags = [format!("price:{id}")])]
async fn price(id: u64) -> u32 {
    ASYNC.fetch_add(1, Ordering::SeqCst);
    PRICE.load(Ordering::SeqCst) + id as u32
}

#[cached(ttl = 60, stale = 60, timeout = "1s")]
async fn detached(id: u64) -> Result<u64, memo_runtime::LoadTimeout> {
    STALE.fetch_add(1, Ordering::SeqCst);
    Ok(id)
}

static BATCHES: AtomicU32 = AtomicU32::new(0);

/// Answers every key asked, and one more that nobody asked for.
#[cached(batch, ttl = 60)]
fn squares(ids: &[u64]) -> std::collections::HashMap<u64, u64> {
    BATCHES.fetch_add(1, Ordering::SeqCst);
    ids.iter().chain([&1_000]).map(|&id| (id, id * id)).collect()
}

#[request_memo]
async fn per_request(id: u64) -> u64 {
    MEMO.fetch_add(1, Ordering::SeqCst);
    id
}

#[tokio::test]
async fn caching_off_runs_every_body_and_on_again_serves_nothing_stale() {
    assert!(memo_runtime::enabled(), "on unless MEMO_DISABLE says otherwise");
    price(1).await;
    assert_eq!(ASYNC.load(Ordering::SeqCst), 1);

    memo_runtime::set_enabled(false);
    for _ in 0..3 {
        plain(1);
        price(1).await;
        detached(1).await.unwrap();
        assert_eq!(squares(&[2, 3, 2]).len(), 2, "the keys asked, once each");
    }
    memo_runtime::scope(async {
        per_request(1).await;
        per_request(1).await;
    })
    .await;
    assert_eq!(PLAIN.load(Ordering::SeqCst), 3);
    assert_eq!(ASYNC.load(Ordering::SeqCst), 4, "the entry from before was not used");
    assert_eq!(STALE.load(Ordering::SeqCst), 3);
    assert_eq!(MEMO.load(Ordering::SeqCst), 2);
    assert_eq!(plain::stats().entries, 0, "nothing stored while off");
    assert_eq!((BATCHES.load(Ordering::SeqCst), squares::stats().entries), (3, 0));
    assert_eq!(plain::stats().loads, 3);
    assert_eq!(memo_runtime::warm(1..=10, 4, price).await, 0, "warming does nothing while off");

    // A write while caching is off must not be hidden by the entry cached before it.
    PRICE.store(200, Ordering::SeqCst);
    memo_runtime::invalidate_tag("price:1");

    memo_runtime::set_enabled(true);
    assert_eq!(price(1).await, 201, "reloaded after the invalidation made while off");
    assert_eq!(price(1).await, 201);
    plain(1);
    plain(1);
    assert_eq!(PLAIN.load(Ordering::SeqCst), 4, "one load, then a hit");
    detached(1).await.unwrap();
    detached(1).await.unwrap();
    assert_eq!(STALE.load(Ordering::SeqCst), 4);
    memo_runtime::scope(async {
        per_request(1).await;
        per_request(1).await;
    })
    .await;
    assert_eq!(MEMO.load(Ordering::SeqCst), 3);
}
