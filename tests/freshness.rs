//! Freshness under load: stale-while-revalidate, stale-if-error, early refresh and the load
//! timeout, with the mock clock (time-to-live arithmetic) and tokio's paused time (timeouts).
//!
//! Every test installs a `MockClock`, which serializes them.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

mod support;

use memo_runtime::testing::MockClock;
use memo_runtime::{LoadTimeout, cached};

/// Calls `f` until it returns `want` (a background reload landed), for at most 5 s.
fn eventually<T: PartialEq + std::fmt::Debug>(want: T, mut f: impl FnMut() -> T) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let got = f();
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "still {got:?}, waiting for {want:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

static SWR_LOADS: AtomicU32 = AtomicU32::new(0);
static SWR_GATE: Mutex<Option<Arc<Barrier>>> = Mutex::new(None);

#[cached(ttl = 10, stale = 5)]
fn swr(id: u32) -> u32 {
    let run = SWR_LOADS.fetch_add(1, Ordering::SeqCst) + 1;
    let gate = SWR_GATE.lock().unwrap().clone();
    if let Some(gate) = gate {
        gate.wait(); // the reload is running
        gate.wait(); // the test let it finish
    }
    id * 100 + run
}

#[test]
fn stale_values_answer_at_once_while_one_reload_runs() {
    let clock = MockClock::install();
    assert_eq!(swr(1), 101);
    clock.advance(Duration::from_secs(11)); // expired, inside the 5 s stale window

    let gate = Arc::new(Barrier::new(2));
    *SWR_GATE.lock().unwrap() = Some(Arc::clone(&gate));
    assert_eq!(swr(1), 101, "answered from the stale value, without waiting");
    gate.wait(); // the background reload is now blocked inside the body
    for _ in 0..100 {
        assert_eq!(swr(1), 101, "still stale while the reload runs");
    }
    assert_eq!(SWR_LOADS.load(Ordering::SeqCst), 2, "exactly one reload for all those calls");
    *SWR_GATE.lock().unwrap() = None;
    gate.wait();
    eventually(102, || swr(1));
    let stats = swr::stats();
    assert!(stats.stale_served >= 101, "the 101 calls above, and any while the reload was storing");
    assert_eq!(stats.loads, 2);

    clock.advance(Duration::from_secs(16)); // past ttl + stale: a plain miss
    assert_eq!(swr(1), 103);
}

static SWR_ASYNC_LOADS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 10, stale = 5)]
async fn swr_async(id: u32) -> u32 {
    let run = SWR_ASYNC_LOADS.fetch_add(1, Ordering::SeqCst) + 1;
    tokio::time::sleep(Duration::from_millis(5)).await;
    id * 100 + run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_functions_revalidate_in_a_background_task() {
    let clock = MockClock::install();
    assert_eq!(swr_async(2).await, 201);
    clock.advance(Duration::from_secs(12));
    let answers: Vec<u32> = futures_all((0..50).map(|_| swr_async(2))).await;
    assert!(answers.iter().all(|a| *a == 201), "{answers:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while swr_async(2).await != 202 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(SWR_ASYNC_LOADS.load(Ordering::SeqCst), 2);
}

/// The keys of each run of `swr_batch`'s body.
static BATCH_RUNS: Mutex<Vec<Vec<u32>>> = Mutex::new(Vec::new());

#[cached(batch, ttl = 10, stale = 5)]
async fn swr_batch(ids: Vec<u32>) -> std::collections::HashMap<u32, u32> {
    let run = {
        let mut runs = BATCH_RUNS.lock().unwrap();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        runs.push(sorted);
        runs.len() as u32
    };
    tokio::time::sleep(Duration::from_millis(5)).await;
    ids.into_iter().map(|id| (id, id * 100 + run)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_answers_stale_keys_at_once_and_reloads_them_in_one_load() {
    let clock = MockClock::install();
    let first = swr_batch(vec![1, 2]).await;
    assert_eq!((first[&1], first[&2]), (101, 201));
    clock.advance(Duration::from_secs(11)); // 1 and 2 are stale, inside the 5 s window

    let second = swr_batch(vec![1, 2, 3]).await;
    assert_eq!((second[&1], second[&2]), (101, 201), "the stale values answered");
    assert_eq!(second[&3] / 100, 3, "the missing key was loaded in the call");
    let deadline = Instant::now() + Duration::from_secs(5);
    while swr_batch(vec![1, 2]).await[&1] == 101 {
        assert!(Instant::now() < deadline, "the stale keys were never reloaded");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let mut runs = BATCH_RUNS.lock().unwrap().clone();
    runs.sort();
    assert_eq!(runs, vec![vec![1, 2], vec![1, 2], vec![3]], "one reload for both stale keys");
    assert!(swr_batch::stats().stale_served >= 2);

    clock.advance(Duration::from_secs(16)); // past ttl + stale: a plain miss, loaded in the call
    let third = swr_batch(vec![1, 2]).await;
    assert_eq!(third[&1] / 100, 1);
    assert_eq!(BATCH_RUNS.lock().unwrap().len(), 4);

    clock.advance(Duration::from_secs(11)); // stale again: `one` serves it too, and reloads it
    assert_eq!(swr_batch::one(1).await, Some(third[&1]));
    while swr_batch::one(1).await == Some(third[&1]) {
        assert!(Instant::now() < deadline + Duration::from_secs(5), "`one` never reloaded the stale key");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(BATCH_RUNS.lock().unwrap().last(), Some(&vec![1]), "a reload of the one key");
}

static SYNC_BATCH_RUNS: Mutex<Vec<Vec<u32>>> = Mutex::new(Vec::new());

#[cached(batch, ttl = 10, stale = 5)]
fn swr_batch_sync(ids: Vec<u32>) -> std::collections::HashMap<u32, u32> {
    let mut runs = SYNC_BATCH_RUNS.lock().unwrap();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    runs.push(sorted);
    let run = runs.len() as u32;
    ids.into_iter().map(|id| (id, id * 100 + run)).collect()
}

#[test]
fn a_sync_batch_reloads_its_stale_keys_on_the_load_pool() {
    let clock = MockClock::install();
    assert_eq!(swr_batch_sync(vec![1, 2])[&1], 101);
    clock.advance(Duration::from_secs(11));
    let stale = swr_batch_sync(vec![1, 2]);
    assert_eq!((stale[&1], stale[&2]), (101, 201), "answered from the stale values");
    eventually(Some(102), || swr_batch_sync(vec![1, 2]).get(&1).copied());
    assert_eq!(*SYNC_BATCH_RUNS.lock().unwrap(), vec![vec![1, 2], vec![1, 2]], "one reload of both keys");
    clock.advance(Duration::from_secs(11));
    assert_eq!(swr_batch_sync::one(2), Some(202), "`one` serves a stale key too");
}

static BATCH_FAIL: AtomicBool = AtomicBool::new(false);
static BATCH_FAIL_LOADS: AtomicU32 = AtomicU32::new(0);

#[cached(batch, ttl = 10, stale_if_error = 60)]
fn flaky_batch(ids: Vec<u32>) -> Result<std::collections::HashMap<u32, u32>, String> {
    let run = BATCH_FAIL_LOADS.fetch_add(1, Ordering::SeqCst) + 1;
    if BATCH_FAIL.load(Ordering::SeqCst) {
        return Err("origin down".into());
    }
    Ok(ids.into_iter().map(|id| (id, id * 100 + run)).collect())
}

#[test]
fn a_failed_batch_answers_its_keys_with_their_last_good_values() {
    let clock = MockClock::install();
    let first = flaky_batch(vec![1, 2]).unwrap();
    clock.advance(Duration::from_secs(11)); // expired, inside the stale-if-error window
    BATCH_FAIL.store(true, Ordering::SeqCst);
    assert_eq!(flaky_batch(vec![1, 2]), Ok(first), "the last good values answered the failure");
    assert_eq!(flaky_batch::stats().stale_if_error_served, 2);
    assert_eq!(flaky_batch(vec![1, 3]), Err("origin down".into()), "3 had no good value to fall back on");
    BATCH_FAIL.store(false, Ordering::SeqCst);
    assert_eq!(flaky_batch(vec![3]).unwrap()[&3] / 100, 3);
}

async fn futures_all<F: Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut out = Vec::new();
    for f in futures {
        out.push(f.await);
    }
    out
}

static SAFE_LOADS: AtomicU32 = AtomicU32::new(0);
static SAFE_FAIL: AtomicBool = AtomicBool::new(false);
static SAFE_PANIC: AtomicBool = AtomicBool::new(false);

#[cached(ttl = 10, stale_if_error = 60, retry_after = 5)]
fn flaky(id: u32) -> Result<u32, String> {
    let run = SAFE_LOADS.fetch_add(1, Ordering::SeqCst) + 1;
    if SAFE_PANIC.load(Ordering::SeqCst) {
        panic!("origin crashed");
    }
    if SAFE_FAIL.load(Ordering::SeqCst) { Err("origin down".into()) } else { Ok(id * 100 + run) }
}

#[test]
fn stale_if_error_answers_failures_with_the_last_good_value_and_throttles_retries() {
    let clock = MockClock::install();
    assert_eq!(flaky(1), Ok(101));
    clock.advance(Duration::from_secs(11));
    SAFE_FAIL.store(true, Ordering::SeqCst);
    assert_eq!(flaky(1), Ok(101), "the failure is answered from the last good value");
    assert_eq!(SAFE_LOADS.load(Ordering::SeqCst), 2);
    for _ in 0..10 {
        clock.advance(Duration::from_millis(400));
        assert_eq!(flaky(1), Ok(101));
    }
    assert_eq!(SAFE_LOADS.load(Ordering::SeqCst), 2, "no retry within retry_after");
    clock.advance(Duration::from_secs(1));
    assert_eq!(flaky(1), Ok(101));
    assert_eq!(SAFE_LOADS.load(Ordering::SeqCst), 3, "one retry per period");

    SAFE_PANIC.store(true, Ordering::SeqCst);
    clock.advance(Duration::from_secs(5));
    assert_eq!(flaky(1), Ok(101), "a panic is answered like an error");
    SAFE_PANIC.store(false, Ordering::SeqCst);

    clock.advance(Duration::from_secs(45)); // the value is 61 s old: past stale_if_error
    assert_eq!(flaky(1), Err("origin down".into()));
    SAFE_FAIL.store(false, Ordering::SeqCst);
    assert_eq!(flaky(1), Ok(106));
    let stats = flaky::stats();
    assert_eq!(stats.stale_if_error_served, 3);
    assert_eq!(stats.load_errors, 4);
}

static EARLY_LOADS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 60, early_refresh = 1.0)]
fn early(id: u32) -> u32 {
    EARLY_LOADS.fetch_add(1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(20)); // a measured load time of about 20 ms
    id
}

#[test]
fn early_refresh_reloads_hot_keys_just_before_expiry_only() {
    let clock = MockClock::install();
    early(1);
    clock.advance(Duration::from_secs(50));
    for _ in 0..1_000 {
        early(1);
    }
    assert_eq!(early::stats().early_refreshes, 0, "10 s before expiry a 20 ms load is never refreshed early");
    clock.advance(Duration::from_millis(9_995)); // 5 ms before expiry
    for _ in 0..200 {
        early(1);
    }
    let stats = early::stats();
    assert_eq!(stats.early_refreshes, 1, "a hit this close to expiry triggers one background reload");
    eventually(2, || EARLY_LOADS.load(Ordering::SeqCst));
    assert_eq!(stats.hits, 1_200, "every call answered at once");
}

static SLOW_LOADS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 60, timeout = "100ms")]
async fn slow(id: u32) -> Result<u32, LoadTimeout> {
    SLOW_LOADS.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(id)
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_call_returns_a_timeout_error_and_the_load_finishes_in_the_background() {
    let _clock = MockClock::install();
    let started = tokio::time::Instant::now();
    assert_eq!(slow(7).await, Err(LoadTimeout { after: Duration::from_millis(100) }));
    assert_eq!(started.elapsed(), Duration::from_millis(100));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(slow(7).await, Ok(7), "the abandoned load finished and was stored");
    assert_eq!(SLOW_LOADS.load(Ordering::SeqCst), 1);
    assert_eq!(slow::stats().timeouts, 1);
}

static SLOW_SAFE_LOADS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 10, timeout = "100ms", stale_if_error = 60)]
async fn slow_with_stale_if_error(id: u32) -> Result<u32, LoadTimeout> {
    let run = SLOW_SAFE_LOADS.fetch_add(1, Ordering::SeqCst) + 1;
    if run > 1 {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(id * 100 + run)
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_call_answers_with_the_stale_if_error_value() {
    let clock = MockClock::install();
    assert_eq!(slow_with_stale_if_error(3).await, Ok(301));
    clock.advance(Duration::from_secs(11));
    assert_eq!(slow_with_stale_if_error(3).await, Ok(301), "the reload is slow: the old value answers at the timeout");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(slow_with_stale_if_error(3).await, Ok(302));
    assert_eq!(slow_with_stale_if_error::stats().stale_if_error_served, 1);
}

static PACED_LOADS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 10, timeout = "100ms", stale_if_error = 60, retry_after = 5)]
async fn paced(id: u32) -> Result<u32, LoadTimeout> {
    let run = PACED_LOADS.fetch_add(1, Ordering::SeqCst) + 1;
    if run > 1 {
        tokio::time::sleep(Duration::from_secs(3_600)).await; // the source hangs
    }
    Ok(id * 100 + run)
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_call_answered_by_the_stale_if_error_value_paces_the_next_calls_like_a_failed_load() {
    let clock = MockClock::install();
    assert_eq!(paced(4).await, Ok(401));
    clock.advance(Duration::from_secs(11));
    let started = tokio::time::Instant::now();
    assert_eq!(paced(4).await, Ok(401), "the reload hangs: the old value answers at the timeout");
    assert_eq!(paced(4).await, Ok(401), "within retry_after the old value answers at once");
    assert_eq!(started.elapsed(), Duration::from_millis(100), "only the first call waited");
    assert_eq!((paced::stats().timeouts, paced::stats().stale_if_error_served), (1, 1));
    clock.advance(Duration::from_secs(6));
    assert_eq!(paced(4).await, Ok(401), "after retry_after a call waits for the load again");
    assert_eq!(started.elapsed(), Duration::from_millis(200));
    assert_eq!(PACED_LOADS.load(Ordering::SeqCst), 2, "the hanging load is the only reload");
}

static PARKED_LOADS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 60, timeout = "10s")]
async fn parked(id: u32) -> Result<u32, LoadTimeout> {
    PARKED_LOADS.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(id)
}

/// Regression guard for the "leader never polled again" stall (moka issue 240): the leading
/// call is polled once and then parked, neither polled nor dropped; another caller still
/// gets the value, because the load runs as its own task.
#[tokio::test(start_paused = true)]
async fn a_leader_that_is_never_polled_again_does_not_stall_the_others() {
    let _clock = MockClock::install();
    let mut leader = Box::pin(parked(5));
    assert!(futures_poll_once(leader.as_mut()).await.is_none());
    assert_eq!(parked(5).await, Ok(5));
    assert_eq!(PARKED_LOADS.load(Ordering::SeqCst), 1);
    drop(leader);
}

async fn futures_poll_once<F: Future + Unpin>(mut f: F) -> Option<F::Output> {
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match std::pin::Pin::new(&mut f).poll(cx) {
            std::task::Poll::Ready(v) => Some(v),
            std::task::Poll::Pending => None,
        })
    })
    .await
}

static SYNC_SLOW_LOADS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 60, timeout = "20ms")]
fn sync_slow(id: u32) -> Result<u32, LoadTimeout> {
    SYNC_SLOW_LOADS.fetch_add(1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(200));
    Ok(id)
}

#[test]
fn sync_functions_time_out_too() {
    let _clock = MockClock::install();
    let started = Instant::now();
    assert_eq!(sync_slow(4), Err(LoadTimeout { after: Duration::from_millis(20) }));
    assert!(started.elapsed() < Duration::from_millis(150));
    eventually(Ok(4), || sync_slow(4));
    assert_eq!(SYNC_SLOW_LOADS.load(Ordering::SeqCst), 1);
}

static TAGGED_STALE_LOADS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 10, stale = 60, tags = [format!("fresh:item:{id}")])]
fn tagged_stale(id: u32) -> u32 {
    TAGGED_STALE_LOADS.fetch_add(1, Ordering::SeqCst) + 1
}

#[test]
fn an_invalidated_entry_is_never_served_stale() {
    let clock = MockClock::install();
    assert_eq!(tagged_stale(1), 1);
    clock.advance(Duration::from_secs(11));
    memo_runtime::invalidate_tag("fresh:item:1");
    assert_eq!(tagged_stale(1), 2, "invalidated: loaded again, not served stale");
}

static COMPOSED_LOADS: AtomicU32 = AtomicU32::new(0);

/// Everything at once: negative caching, stale-while-revalidate, tags and the request memo.
#[cached(ttl = 10, negative_ttl = 10, stale = 5, tags = [format!("fresh:composed:{id}")], request_consistent)]
async fn composed(id: u32) -> Option<u32> {
    let run = COMPOSED_LOADS.fetch_add(1, Ordering::SeqCst) + 1;
    (id > 0).then_some(run)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_options_compose() {
    let clock = MockClock::install();
    assert_eq!(composed(0).await, None);
    assert_eq!(composed(0).await, None, "negative entries are kept");
    assert_eq!(COMPOSED_LOADS.load(Ordering::SeqCst), 1);
    memo_runtime::scope(async {
        let first = composed(1).await;
        clock.advance(Duration::from_secs(11)); // stale now
        memo_runtime::invalidate_tag("fresh:composed:1");
        assert_eq!(composed(1).await, first, "the request keeps its first answer");
    })
    .await;
    assert_eq!(composed(1).await, Some(3), "invalidated: reloaded, not served stale");
}

static POOLED_RUNNING: AtomicU32 = AtomicU32::new(0);
static POOLED_PEAK: AtomicU32 = AtomicU32::new(0);
static POOLED_HOLD: AtomicBool = AtomicBool::new(false);

#[cached(ttl = 10, stale = 60)]
fn pooled(id: u32) -> u32 {
    let running = POOLED_RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
    POOLED_PEAK.fetch_max(running, Ordering::SeqCst);
    while POOLED_HOLD.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
    POOLED_RUNNING.fetch_sub(1, Ordering::SeqCst);
    id
}

/// Regression: every background reload of a sync function started a thread of its own, so
/// keys going stale together started as many threads.
#[test]
fn background_reloads_of_sync_functions_share_a_bounded_pool() {
    let clock = MockClock::install();
    let keys = 3 * memo_runtime::background::THREADS as u32;
    for id in 0..keys {
        pooled(id);
    }
    clock.advance(Duration::from_secs(11)); // all stale at once
    POOLED_HOLD.store(true, Ordering::SeqCst);
    for id in 0..keys {
        assert_eq!(pooled(id), id, "the stale value answers at once");
    }
    // Each reload handed to the pool starts at once (none waits in a queue); those that found
    // every thread busy (some may still run other tests' loads) were not made.
    let started = pooled::stats().loads - u64::from(keys);
    eventually(started, || u64::from(POOLED_RUNNING.load(Ordering::SeqCst)));
    assert!(started >= 1 && started <= memo_runtime::background::THREADS as u64, "{started} reloads at once");
    POOLED_HOLD.store(false, Ordering::SeqCst);
    // The reloads that found every thread busy were not made: later calls make them.
    eventually(u64::from(2 * keys), || {
        for id in 0..keys {
            let _ = pooled(id);
        }
        pooled::stats().loads
    });
    assert!(POOLED_PEAK.load(Ordering::SeqCst) <= memo_runtime::background::THREADS as u32, "never more at once");
}

static NO_TOKIO_LOADS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 10, stale = 60)]
async fn no_tokio(id: u32) -> u32 {
    id * 100 + NO_TOKIO_LOADS.fetch_add(1, Ordering::SeqCst) + 1
}

/// A minimal executor that is not tokio, as `futures::executor::block_on` is.
fn run<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}

/// Regression: outside a tokio runtime a stale value was served, but never reloaded.
#[test]
fn async_functions_revalidate_without_a_tokio_runtime_too() {
    let clock = MockClock::install();
    assert_eq!(run(no_tokio(1)), 101);
    clock.advance(Duration::from_secs(11));
    assert_eq!(run(no_tokio(1)), 101, "stale, answered at once");
    eventually(102, || run(no_tokio(1)));
}

static OUTAGE: AtomicBool = AtomicBool::new(false);

#[cached(ttl = 1, stale_if_error = "1h", retry_after = 1, name = "freshness.logged")]
fn logged(id: u32) -> Result<u32, String> {
    if OUTAGE.load(Ordering::SeqCst) { Err("down".to_owned()) } else { Ok(id) }
}

/// Regression: every stale-if-error answer logged a line (thousands a second for a hot cache whose source
/// is down). Now the first is logged, and then one line per 10 s says how many there were.
#[test]
fn stale_if_error_answers_are_logged_once_per_ten_seconds_with_their_count() {
    let clock = MockClock::install();
    let lines = support::log_lines::installed();
    for id in 0..500 {
        logged(id).unwrap();
    }
    OUTAGE.store(true, Ordering::SeqCst);
    for _ in 0..10 {
        clock.advance(Duration::from_secs(1)); // expired, and past the retry period
        for id in 0..500 {
            assert_eq!(logged(id), Ok(id), "answered by the stale-if-error value");
        }
    }
    clock.advance(Duration::from_secs(1));
    logged(0).unwrap();
    assert_eq!(logged::stats().stale_if_error_served, 5_001);
    let counts: Vec<String> = lines
        .matching("freshness.logged")
        .into_iter()
        .filter(|l| l.level == tracing::Level::WARN)
        .map(|l| l.text.split_whitespace().find(|f| f.starts_with("count=")).unwrap_or_default().to_owned())
        .collect();
    assert_eq!(counts, ["count=1", "count=5000"], "the first at once, then one line for the rest 10 s later");
}
