//! `#[request_memo]` and request scopes: once per scope, shared concurrent runs, errors not
//! memoized, nothing outside a scope, nested scopes, spawned tasks, bounded scopes, and
//! `#[cached(request_consistent)]`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use memo_runtime::scope::{self, Scope};
use memo_runtime::{cached, request_memo};

static USER_QUERIES: AtomicU32 = AtomicU32::new(0);

#[request_memo]
async fn user(id: u64) -> Result<String, String> {
    USER_QUERIES.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(5)).await;
    Ok(format!("user {id}"))
}

#[tokio::test]
async fn equal_calls_run_once_per_scope_and_never_outside_one() {
    let before = USER_QUERIES.load(Ordering::SeqCst);
    memo_runtime::scope(async {
        assert_eq!(user(1).await.unwrap(), "user 1");
        assert_eq!(user(1).await.unwrap(), "user 1");
        assert_eq!(user(2).await.unwrap(), "user 2");
    })
    .await;
    assert_eq!(USER_QUERIES.load(Ordering::SeqCst) - before, 2, "1 and 2, once each");

    memo_runtime::scope(async { user(1).await.unwrap() }).await;
    assert_eq!(USER_QUERIES.load(Ordering::SeqCst) - before, 3, "a new scope runs again");

    user(1).await.unwrap();
    user(1).await.unwrap();
    assert_eq!(USER_QUERIES.load(Ordering::SeqCst) - before, 5, "outside a scope every call runs");
}

static FLAKY_QUERIES: AtomicU32 = AtomicU32::new(0);

#[request_memo]
async fn flaky(id: u64) -> Result<Option<u64>, String> {
    let run = FLAKY_QUERIES.fetch_add(1, Ordering::SeqCst);
    if run < 2 { Err("timeout".into()) } else { Ok((id > 0).then_some(id)) }
}

#[tokio::test]
async fn errors_are_not_memoized_but_none_is() {
    memo_runtime::scope(async {
        assert!(flaky(0).await.is_err());
        assert!(flaky(0).await.is_err());
        assert_eq!(flaky(0).await, Ok(None));
        assert_eq!(flaky(0).await, Ok(None));
    })
    .await;
    assert_eq!(FLAKY_QUERIES.load(Ordering::SeqCst), 3, "two errors ran again, then None was kept");
}

static SHARED_RUNS: AtomicU32 = AtomicU32::new(0);

#[request_memo]
async fn slow_lookup(id: u64) -> u64 {
    SHARED_RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(20)).await;
    id * 10
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_equal_calls_in_one_scope_share_one_run() {
    memo_runtime::scope(async {
        let calls: Vec<_> = (0..50).map(|i| slow_lookup(i % 5)).collect();
        let results = futures_join_all(calls).await;
        assert_eq!(results, (0..50).map(|i| (i % 5) * 10).collect::<Vec<_>>());
    })
    .await;
    assert_eq!(SHARED_RUNS.load(Ordering::SeqCst), 5, "five keys, five runs, all concurrent");
}

/// `join_all` without a dependency: polls every future in one task.
async fn futures_join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    outputs.into_iter().map(|o| o.expect("ready")).collect()
}

static SYNC_RUNS: AtomicU32 = AtomicU32::new(0);

struct Repo;

impl Repo {
    #[request_memo(skip(self))]
    fn permissions(&self, user: &str) -> Vec<String> {
        SYNC_RUNS.fetch_add(1, Ordering::SeqCst);
        vec![format!("read:{user}")]
    }
}

#[test]
fn sync_functions_and_methods_memoize_in_a_sync_scope() {
    let repo = Repo;
    scope::sync_scope(|| {
        assert_eq!(repo.permissions("ada"), vec!["read:ada"]);
        assert_eq!(repo.permissions("ada"), vec!["read:ada"]);
        let nested = scope::sync_scope(|| repo.permissions("ada"));
        assert_eq!(nested, vec!["read:ada"]);
    });
    assert_eq!(SYNC_RUNS.load(Ordering::SeqCst), 1, "the nested scope reused the outer one");
}

static SPAWN_RUNS: AtomicU32 = AtomicU32::new(0);

#[request_memo]
async fn config_value(name: &str) -> String {
    SPAWN_RUNS.fetch_add(1, Ordering::SeqCst);
    name.to_uppercase()
}

#[tokio::test]
async fn spawned_tasks_share_the_scope_only_when_inherited() {
    memo_runtime::scope(async {
        config_value("a").await;
        tokio::spawn(scope::inherit(async { config_value("a").await })).await.unwrap();
        assert_eq!(SPAWN_RUNS.load(Ordering::SeqCst), 1, "inherit carries the scope");
        tokio::spawn(async { config_value("a").await }).await.unwrap();
        assert_eq!(SPAWN_RUNS.load(Ordering::SeqCst), 2, "a plain spawn starts outside the scope");
    })
    .await;
}

static BOUNDED_RUNS: AtomicU32 = AtomicU32::new(0);

#[request_memo]
fn bounded(id: u32) -> u32 {
    BOUNDED_RUNS.fetch_add(1, Ordering::SeqCst);
    id
}

#[test]
fn a_bounded_scope_stops_keeping_results_when_full() {
    let scope = Scope::with_max_entries(3);
    scope.clone().run_sync(|| {
        for id in 0..5 {
            bounded(id);
        }
        for id in 0..5 {
            bounded(id);
        }
    });
    assert_eq!(scope.len(), 3);
    assert_eq!(BOUNDED_RUNS.load(Ordering::SeqCst), 3 + 2 + 2, "ids 3 and 4 ran twice");
    assert!(scope.skipped() >= 4);
}

static CONSISTENT_LOADS: AtomicU32 = AtomicU32::new(0);
static PRICE: AtomicU32 = AtomicU32::new(100);

#[cached(ttl = 60, request_consistent)]
async fn price(id: u32) -> u32 {
    CONSISTENT_LOADS.fetch_add(1, Ordering::SeqCst);
    PRICE.load(Ordering::SeqCst) + id
}

#[tokio::test]
async fn request_consistent_caches_answer_one_value_per_request() {
    memo_runtime::scope(async {
        assert_eq!(price(1).await, 101);
        PRICE.store(200, Ordering::SeqCst);
        price::invalidate(&1);
        assert_eq!(price(1).await, 101, "same request: the first answer holds");
    })
    .await;
    assert_eq!(price(1).await, 201, "the next request sees the invalidation");
    assert_eq!(CONSISTENT_LOADS.load(Ordering::SeqCst), 2);
    assert_eq!(price::stats().hits, 0, "the repeated call never reached the cache");
    let name = concat!(module_path!(), "::price");
    let loads: u64 = memo_runtime::stats::all().iter().filter(|s| s.name == name).map(|s| s.loads).sum();
    assert_eq!(loads, 2, "the body ran twice: the request layer in front counts no loads of its own");
}

#[request_memo]
fn page(id: u32) -> Arc<String> {
    Arc::new(format!("page {id}"))
}

/// Other tests in this binary open scopes at the same time, so the process-wide count of live
/// scopes is not this test's to assert exactly: what it checks is that the values memoized in
/// a scope go with its last handle.
#[test]
fn scopes_are_dropped_with_their_request() {
    let scope = Scope::new();
    let first = scope.clone().run_sync(|| page(7));
    assert!(scope::live() >= 1, "this scope counts as live");
    assert_eq!(Arc::strong_count(&first), 2, "the scope keeps a copy");
    assert!(Arc::ptr_eq(&first, &scope.clone().run_sync(|| page(7))), "memoized in the scope");
    assert_eq!(scope.len(), 1);
    drop(scope);
    assert_eq!(Arc::strong_count(&first), 1, "dropping the scope dropped its copy");
}

static PEAK_RUNNING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static RUNNING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Waits (up to 10 s) until 20 loads run at once; if one key waited on another, the peak would
/// stay below 20.
#[request_memo]
async fn independent(id: u64) -> u64 {
    let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
    PEAK_RUNNING.fetch_max(now, Ordering::SeqCst);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while PEAK_RUNNING.load(Ordering::SeqCst) < 20 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    RUNNING.fetch_sub(1, Ordering::SeqCst);
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_arguments_never_wait_on_each_other() {
    memo_runtime::scope(async {
        let tasks: Vec<_> = (0..20).map(|id| tokio::spawn(scope::inherit(independent(id)))).collect();
        for (id, task) in tasks.into_iter().enumerate() {
            assert_eq!(task.await.unwrap(), id as u64);
        }
    })
    .await;
    assert_eq!(PEAK_RUNNING.load(Ordering::SeqCst), 20);
}

#[request_memo]
async fn counted(id: u64) -> u64 {
    id
}

static NESTED_DEPTH: AtomicU32 = AtomicU32::new(0);

#[request_memo]
async fn nested(id: u64) -> u64 {
    if NESTED_DEPTH.fetch_add(1, Ordering::SeqCst) == 0 { Box::pin(nested(id)).await + 1 } else { id }
}

/// Regression: `loads` stayed 0 although the body ran.
#[tokio::test]
async fn statistics_count_the_body_runs_as_loads() {
    memo_runtime::scope(async {
        counted(1).await;
        counted(1).await;
        counted(2).await;
    })
    .await;
    let name = concat!(module_path!(), "::counted");
    let stats = memo_runtime::stats::all().into_iter().find(|s| s.name == name).unwrap();
    assert_eq!((stats.misses, stats.loads, stats.request_hits), (2, 2, 1));
}

/// Regression: an async memoized function awaiting itself with the same arguments hung.
#[tokio::test]
async fn a_call_of_itself_with_the_same_arguments_runs_the_body_again() {
    let answer = memo_runtime::scope(tokio::time::timeout(Duration::from_secs(10), nested(7))).await;
    assert_eq!(answer, Ok(8), "no hang");
}
