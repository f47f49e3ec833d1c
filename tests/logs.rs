//! What memo logs, through a `tracing` subscriber: every load in a span named for its cache,
//! and one line for each transition of the L2's breaker, at the same level both ways.
//!
//! The subscriber is this process's global one (a test binary of its own), so no other test's
//! subscriber decides which of memo's log sites are enabled; each test reads only the lines of
//! its own cache or namespace.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use memo_runtime::cached;
use support::redis_server::RedisServer;

#[cached(ttl = 60, name = "logs.traced")]
fn traced(x: u64) -> u64 {
    tracing::info!(x, "loading");
    x
}

#[test]
fn every_load_runs_in_a_span_named_for_its_cache() {
    let lines = support::log_lines::installed();
    traced(1);
    traced(1); // a hit: no span, no event
    traced(2);
    let spans: Vec<String> = lines.matching("logs.traced").into_iter().map(|l| l.span).collect();
    assert_eq!(spans, [r#"memo.load cache=logs.traced"#, r#"memo.load cache=logs.traced"#]);
}

/// Redis out of reach, then back: one line when the breaker opens and one when it closes, both
/// warnings, however many calls fail or skip the L2 meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_breaker_logs_each_transition_once_at_the_same_level() {
    let lines = support::log_lines::installed();
    let port = RedisServer::free_port();
    let l2 = memo_runtime::Memo::builder()
        .redis(format!("redis://127.0.0.1:{port}"))
        .namespace("logs-breaker")
        .l2_timeout(Duration::from_millis(200))
        .connect()
        .unwrap();
    let cache: &'static memo_runtime::Cache<u64, String> =
        Box::leak(Box::new(memo_runtime::Cache::builder().name("logs.breaker").l2(Arc::clone(&l2)).build()));
    let shape = memo_runtime::outcome::PlainShape::<String>::default();
    let call = |id: u64| {
        cache.through_l2().get_or_load_async(id, memo_runtime::Load::new(shape, async move { id.to_string() }))
    };
    let mut id = 0;
    let bound = l2.breaker_cooldown() * 4 + l2.timeout() * 10;
    let started = Instant::now();
    while l2.stats().breaker_opened == 0 {
        id += 1;
        call(id).await;
        assert!(started.elapsed() < bound, "the breaker never opened: {:?}", l2.stats());
    }
    for _ in 0..1_000 {
        id += 1;
        call(id).await; // skip the L2, log nothing
    }
    let _server = RedisServer::start_on(port);
    let started = Instant::now();
    while l2.breaker_state() != memo_runtime::l2::breaker::BreakerState::Closed {
        id += 1;
        call(id).await; // one of these is the probe that finds Redis back
        assert!(started.elapsed() < bound, "the breaker never closed: {:?}", l2.stats());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let transitions: Vec<(tracing::Level, bool)> = lines
        .matching("logs-breaker")
        .into_iter()
        .filter(|l| l.text.contains("circuit breaker"))
        .map(|l| (l.level, l.text.contains("closed")))
        .collect();
    assert_eq!(transitions, [(tracing::Level::WARN, false), (tracing::Level::WARN, true)], "open, then closed");
}
