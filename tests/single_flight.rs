//! Single-flight: concurrent misses on one key run the body once; different keys never wait
//! on each other; a leader that fails, panics or is cancelled leaves no waiter hanging.

use std::sync::Barrier;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use memo_runtime::cached;

/// Starts `n` threads with small stacks that run `f` together.
fn many_threads<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let barrier = Barrier::new(n);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (f, barrier) = (&f, &barrier);
                std::thread::Builder::new()
                    .stack_size(256 * 1024)
                    .spawn_scoped(s, move || {
                        barrier.wait();
                        f(i)
                    })
                    .expect("spawn")
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("caller panicked")).collect()
    })
}

static ONE_KEY_SYNC: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 60)]
fn one_key_sync(key: u64) -> u64 {
    ONE_KEY_SYNC.fetch_add(1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(50));
    key * 2
}

#[test]
fn thousand_threads_on_one_cold_key_run_the_body_once() {
    let results = many_threads(1_000, |_| one_key_sync(21));
    assert!(results.iter().all(|r| *r == 42));
    assert_eq!(ONE_KEY_SYNC.load(Ordering::SeqCst), 1);
    let stats = one_key_sync::stats();
    assert_eq!(stats.loads, 1);
    assert_eq!(stats.hits + stats.misses, 1_000);
}

static ONE_KEY_ASYNC: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 60)]
async fn one_key_async(key: u64) -> u64 {
    ONE_KEY_ASYNC.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(50)).await;
    key * 2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousand_tasks_on_one_cold_key_run_the_body_once() {
    let tasks: Vec<_> = (0..1_000).map(|_| tokio::spawn(one_key_async(21))).collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 42);
    }
    assert_eq!(ONE_KEY_ASYNC.load(Ordering::SeqCst), 1);
    assert_eq!(one_key_async::stats().loads, 1);
}

static MANY_KEYS_RUNS: AtomicU32 = AtomicU32::new(0);
static MANY_KEYS_RUNNING: AtomicUsize = AtomicUsize::new(0);
static MANY_KEYS_PEAK: AtomicUsize = AtomicUsize::new(0);

/// Waits (up to 10 s) until 100 loads run at once: if any key waited on another, they never
/// would, and the peak stays below 100.
#[cached(ttl = 60)]
async fn many_keys_async(key: u64) -> u64 {
    MANY_KEYS_RUNS.fetch_add(1, Ordering::SeqCst);
    let now = MANY_KEYS_RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
    MANY_KEYS_PEAK.fetch_max(now, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(10);
    while MANY_KEYS_PEAK.load(Ordering::SeqCst) < 100 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    MANY_KEYS_RUNNING.fetch_sub(1, Ordering::SeqCst);
    key
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_cold_keys_times_ten_callers_load_each_key_once_all_at_once() {
    let tasks: Vec<_> = (0..100u64).flat_map(|key| (0..10).map(move |_| tokio::spawn(many_keys_async(key)))).collect();
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.unwrap(), (i / 10) as u64);
    }
    assert_eq!(MANY_KEYS_RUNS.load(Ordering::SeqCst), 100);
    assert_eq!(MANY_KEYS_PEAK.load(Ordering::SeqCst), 100, "all 100 loads ran concurrently");
    let stats = many_keys_async::stats();
    assert_eq!(stats.coalesced + stats.hits, 900, "every other caller waited or hit");
}

static SYNC_KEYS_RUNS: AtomicU32 = AtomicU32::new(0);
static SYNC_KEYS_RUNNING: AtomicUsize = AtomicUsize::new(0);
static SYNC_KEYS_PEAK: AtomicUsize = AtomicUsize::new(0);

#[cached(ttl = 60)]
fn many_keys_sync(key: u64) -> u64 {
    SYNC_KEYS_RUNS.fetch_add(1, Ordering::SeqCst);
    let now = SYNC_KEYS_RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
    SYNC_KEYS_PEAK.fetch_max(now, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(10);
    while SYNC_KEYS_PEAK.load(Ordering::SeqCst) < 100 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    SYNC_KEYS_RUNNING.fetch_sub(1, Ordering::SeqCst);
    key
}

#[test]
fn hundred_cold_keys_times_ten_threads_load_each_key_once_all_at_once() {
    let results = many_threads(1_000, |i| (i, many_keys_sync((i % 100) as u64)));
    assert!(results.iter().all(|(i, r)| *r == (*i % 100) as u64));
    assert_eq!(SYNC_KEYS_RUNS.load(Ordering::SeqCst), 100);
    assert_eq!(SYNC_KEYS_PEAK.load(Ordering::SeqCst), 100, "all 100 loads ran concurrently");
}

static PANIC_RUNS: AtomicU32 = AtomicU32::new(0);

/// The first run waits for nine waiters to join, then panics; the next run succeeds.
#[cached(ttl = 60)]
fn panics_first(key: u64) -> u64 {
    if PANIC_RUNS.fetch_add(1, Ordering::SeqCst) == 0 {
        let deadline = Instant::now() + Duration::from_secs(10);
        while panics_first::stats().coalesced < 9 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        panic!("loader failed");
    }
    key
}

#[test]
fn a_panicking_leader_hands_the_load_to_a_waiter() {
    let leader = std::thread::spawn(|| std::panic::catch_unwind(|| panics_first(7)).is_err());
    while PANIC_RUNS.load(Ordering::SeqCst) == 0 {
        std::thread::yield_now();
    }
    let waiters = many_threads(9, |_| panics_first(7));
    assert!(leader.join().unwrap(), "the leader's own call panics");
    assert_eq!(waiters, vec![7; 9]);
    assert_eq!(PANIC_RUNS.load(Ordering::SeqCst), 2, "one waiter took over, the rest shared its run");
    assert_eq!(panics_first(7), 7);
    assert_eq!(panics_first::stats().loads, 2);
}

static CANCEL_RUNS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 60)]
async fn slow_first(key: u64) -> u64 {
    if CANCEL_RUNS.fetch_add(1, Ordering::SeqCst) == 0 {
        std::future::pending::<()>().await;
    }
    key
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_leader_hands_the_load_to_a_waiter() {
    let leader = tokio::spawn(slow_first(3));
    while CANCEL_RUNS.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    let waiters: Vec<_> = (0..10).map(|_| tokio::spawn(slow_first(3))).collect();
    while slow_first::stats().coalesced < 10 {
        tokio::task::yield_now().await;
    }
    leader.abort(); // a client disconnect or a timeout drops the leading future
    assert!(leader.await.unwrap_err().is_cancelled());
    let done = tokio::time::timeout(Duration::from_secs(10), async {
        for waiter in waiters {
            assert_eq!(waiter.await.unwrap(), 3);
        }
    });
    done.await.expect("no waiter hangs after the leader is dropped");
    assert_eq!(CANCEL_RUNS.load(Ordering::SeqCst), 2);
}

static ERROR_RUNS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 60)]
async fn fails_first(key: u64) -> Result<u64, String> {
    if ERROR_RUNS.fetch_add(1, Ordering::SeqCst) == 0 {
        while fails_first::stats().coalesced < 5 {
            tokio::task::yield_now().await;
        }
        return Err("database down".into());
    }
    Ok(key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_is_returned_to_its_caller_and_waiters_retry() {
    let leader = tokio::spawn(fails_first(9));
    while ERROR_RUNS.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    let waiters: Vec<_> = (0..5).map(|_| tokio::spawn(fails_first(9))).collect();
    assert_eq!(leader.await.unwrap(), Err("database down".into()));
    for waiter in waiters {
        assert_eq!(waiter.await.unwrap(), Ok(9));
    }
    assert_eq!(ERROR_RUNS.load(Ordering::SeqCst), 2);
    let stats = fails_first::stats();
    assert_eq!((stats.loads, stats.load_errors), (2, 1));
}

#[cached(ttl = 60)]
fn fib(n: u64) -> u64 {
    if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
}

static SAME_KEY_DEPTH: AtomicU32 = AtomicU32::new(0);

/// Calls itself with the same key from inside its own load.
#[cached]
fn same_key_recursion(n: u64) -> u64 {
    if SAME_KEY_DEPTH.fetch_add(1, Ordering::SeqCst) == 0 { same_key_recursion(n) + 1 } else { n }
}

#[test]
fn recursion_does_not_deadlock() {
    assert_eq!(fib(80), 23_416_728_348_467_685);
    assert_eq!(fib::stats().loads, 81, "each n loaded once");
    // Regression: a sync call that waits on its own thread's flight would block forever.
    assert_eq!(same_key_recursion(1), 2);
    assert_eq!(same_key_recursion(1), 2, "the outer result is the one stored");
}

static ASYNC_SAME_KEY_DEPTH: AtomicU32 = AtomicU32::new(0);

/// Calls itself with the same key from inside its own load, awaiting the call.
#[cached]
async fn async_same_key_recursion(n: u64) -> u64 {
    if ASYNC_SAME_KEY_DEPTH.fetch_add(1, Ordering::SeqCst) == 0 {
        Box::pin(async_same_key_recursion(n)).await + 1
    } else {
        n
    }
}

/// Regression: the async form waited for its own load for ever.
#[tokio::test]
async fn async_recursion_on_the_same_key_runs_again_as_sync_does() {
    let answer = tokio::time::timeout(Duration::from_secs(10), async_same_key_recursion(1)).await;
    assert_eq!(answer, Ok(2), "no hang");
    assert_eq!(async_same_key_recursion(1).await, 2, "the outer result is the one stored");
    assert_eq!(async_same_key_recursion::stats().loads, 2);
}

static TIMED_SAME_KEY_DEPTH: AtomicU32 = AtomicU32::new(0);

/// Calls itself with the same key from inside a load that runs on the load pool (`timeout`).
#[cached(timeout = "10s")]
fn timed_same_key_recursion(n: u64) -> Result<u64, memo_runtime::LoadTimeout> {
    if TIMED_SAME_KEY_DEPTH.fetch_add(1, Ordering::SeqCst) == 0 { Ok(timed_same_key_recursion(n)? + 1) } else { Ok(n) }
}

/// Regression: with `timeout`, the inner call waited for its own load until the timeout.
#[test]
fn recursion_with_a_timeout_runs_again_instead_of_timing_out() {
    assert_eq!(timed_same_key_recursion(1), Ok(2));
}

#[cached(ttl = 60)]
async fn send_plain(id: u64) -> u64 {
    id
}

#[cached(ttl = 60, stale = 30)]
async fn send_stale(id: u64) -> u64 {
    id
}

#[cached(ttl = 60, timeout = "1s", tags = [format!("send:{id}")])]
async fn send_timed(id: u64) -> Result<u64, memo_runtime::LoadTimeout> {
    Ok(id)
}

#[cached(ttl = 60, stale = 30, distributed)]
async fn send_distributed(id: u64) -> u64 {
    id
}

#[cached(ttl = 60, request_consistent)]
async fn send_request_consistent(id: u64) -> u64 {
    id
}

/// A call's future goes to `tokio::spawn` whatever the function's settings: the load that
/// outlives its caller is handed over as a task, never held in the caller's future in a way
/// that hides its `Send`.
#[tokio::test]
async fn every_kind_of_call_can_be_spawned_as_a_task() {
    assert_eq!(tokio::spawn(send_plain(1)).await.expect("join"), 1);
    assert_eq!(tokio::spawn(send_stale(2)).await.expect("join"), 2);
    assert_eq!(tokio::spawn(send_timed(3)).await.expect("join"), Ok(3));
    assert_eq!(tokio::spawn(send_distributed(4)).await.expect("join"), 4);
    assert_eq!(tokio::spawn(send_request_consistent(5)).await.expect("join"), 5);
}

/// Holds an `Rc` across an await: its future is not `Send`, and need not be.
#[cached(ttl = 60)]
async fn local_body(id: u64) -> u64 {
    let here = std::rc::Rc::new(id);
    tokio::task::yield_now().await;
    *here + 1
}

#[tokio::test]
async fn a_body_that_is_not_send_runs_in_its_caller() {
    let local = tokio::task::LocalSet::new();
    let answers = local.run_until(async { (local_body(1).await, local_body(1).await) }).await;
    assert_eq!(answers, (2, 2));
    assert_eq!(local_body::stats().loads, 1);
}

static INNER_RUNS: AtomicU32 = AtomicU32::new(0);

/// Pending on its first poll, so that two loads of it are in flight inside one outer load.
#[cached(ttl = 60)]
async fn inner_pending(id: u64) -> u64 {
    INNER_RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::task::yield_now().await;
    id * 10
}

/// Loads two keys of `inner_pending` at once from inside its own load.
#[cached(ttl = 60)]
async fn outer_of_two(id: u64) -> u64 {
    let (a, b) = tokio::join!(inner_pending(id), inner_pending(id + 1));
    tokio::task::yield_now().await;
    a + b
}

/// Each miss polls its own body, also when misses of other functions are polled inside it
/// and stay pending across polls.
#[tokio::test]
async fn misses_inside_a_load_each_run_their_own_body() {
    assert_eq!(outer_of_two(1).await, 30);
    assert_eq!(outer_of_two(2).await, 50);
    assert_eq!(INNER_RUNS.load(Ordering::SeqCst), 3, "keys 1, 2 and 3, key 2 once");
    assert_eq!((outer_of_two::stats().loads, inner_pending::stats().loads), (2, 3));
}

static ASYNC_PANIC_RUNS: AtomicU32 = AtomicU32::new(0);

/// The first run waits for a waiter to join, then panics; the next run succeeds.
#[cached(ttl = 60)]
async fn async_panics_first(key: u64) -> u64 {
    if ASYNC_PANIC_RUNS.fetch_add(1, Ordering::SeqCst) == 0 {
        let deadline = Instant::now() + Duration::from_secs(10);
        while async_panics_first::stats().coalesced < 1 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("loader failed");
    }
    key
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_async_leader_hands_the_load_to_a_waiter() {
    let leader = tokio::spawn(async_panics_first(7));
    while ASYNC_PANIC_RUNS.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    let waiter = tokio::time::timeout(Duration::from_secs(30), async_panics_first(7)).await;
    assert!(leader.await.expect_err("the leader's own call panics").is_panic());
    assert_eq!(waiter, Ok(7), "the waiter took over");
    assert_eq!(async_panics_first::stats().loads, 2);
}
