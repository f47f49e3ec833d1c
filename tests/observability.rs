//! What operators see: counters by layer, load-time histograms and L2 state through the
//! `metrics` facade (rendered by the Prometheus exporter). What memo logs is in `logs.rs`.

use memo_runtime::{cached, request_memo};
use metrics_exporter_prometheus::PrometheusBuilder;

#[cached(ttl = 60, name = "obs.square")]
fn square(x: u64) -> u64 {
    x * x
}

#[cached(ttl = 60, name = "obs.failing")]
fn failing(x: u64) -> Result<u64, String> {
    Err(format!("no {x}"))
}

#[cached(ttl = 60, name = "obs.pushed")]
fn pushed(x: u64) -> u64 {
    x * 2
}

#[request_memo]
fn per_request(x: u64) -> u64 {
    x + 1
}

/// The value of one rendered series, e.g. `memo_hits_total{cache="obs.square",layer="l1"}`.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn counters_by_layer_and_load_seconds_reach_the_prometheus_exporter() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        square(2);
        square(2);
        square(3);
        let _ = failing(1);
        memo_runtime::scope::sync_scope(|| {
            per_request(1);
            per_request(1);
            per_request(1);
        });
        memo_runtime::metrics::record();
    });
    let text = handle.render();
    let series = |s: &str| value(&text, s).unwrap_or_else(|| panic!("no {s} in:\n{text}"));
    assert_eq!(series(r#"memo_hits_total{cache="obs.square",layer="l1"}"#), 1.0);
    assert_eq!(series(r#"memo_hits_total{cache="obs.square",layer="l2"}"#), 0.0);
    assert_eq!(series(r#"memo_misses_total{cache="obs.square"}"#), 2.0);
    assert_eq!(series(r#"memo_loads_total{cache="obs.square"}"#), 2.0);
    assert_eq!(series(r#"memo_entries{cache="obs.square"}"#), 2.0);
    assert_eq!(series(r#"memo_load_errors_total{cache="obs.failing"}"#), 1.0);
    let per_request = concat!(module_path!(), "::per_request");
    assert_eq!(series(&format!(r#"memo_hits_total{{cache="{per_request}",layer="request"}}"#)), 2.0);
    assert_eq!(series(&format!(r#"memo_misses_total{{cache="{per_request}"}}"#)), 1.0);
    // Three loads timed: two of `square`, one of `failing`.
    assert_eq!(series(r#"memo_load_seconds_count{cache="obs.square"}"#), 2.0);
    assert_eq!(series(r#"memo_load_seconds_count{cache="obs.failing"}"#), 1.0);
    assert!(text.contains("# HELP memo_hits_total"), "described:\n{text}");
}

/// A Redis that cannot be reached: its errors and the open breaker reach the exporter,
/// labelled by the client's namespace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l2_errors_and_the_breaker_state_reach_the_exporter() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let l2 = memo_runtime::Memo::builder()
        .redis(format!("redis://127.0.0.1:{closed}"))
        .namespace("obs-unreachable")
        .l2_timeout(std::time::Duration::from_millis(50))
        .connect()
        .unwrap();
    let cache: &'static memo_runtime::Cache<u64, String> =
        Box::leak(Box::new(memo_runtime::Cache::builder().name("obs.remote").l2(l2.clone()).build()));
    let shape = memo_runtime::outcome::PlainShape::<String>::default();
    for id in 0..20 {
        let value =
            cache.through_l2().get_or_load_async(id, memo_runtime::Load::new(shape, async move { id.to_string() }));
        assert_eq!(value.await, id.to_string());
    }
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    // Writes of the loaded values may still be failing in the background, so the exporter
    // must report the counter as it stood at some moment of the recording.
    let before = l2.stats().errors as f64;
    metrics::with_local_recorder(&recorder, memo_runtime::metrics::record);
    let after = l2.stats().errors as f64;
    let text = handle.render();
    let series = |s: &str| value(&text, s).unwrap_or_else(|| panic!("no {s} in:\n{text}"));
    let errors = series(r#"memo_l2_errors_total{namespace="obs-unreachable"}"#);
    assert!(errors >= 5.0 && (before..=after).contains(&errors), "{errors} not in {before}..={after}");
    for (state, value) in [("closed", 0.0), ("half_open", 0.0), ("open", 1.0)] {
        let breaker = format!(r#"memo_l2_breaker_state{{namespace="obs-unreachable",state="{state}"}}"#);
        assert_eq!(series(&breaker), value, "{state}");
    }
    assert!(series(r#"memo_l2_operations_total{namespace="obs-unreachable",result="skipped"}"#) > 0.0);
}

/// A push exporter installed as the global recorder gets the counters from `record_every`'s
/// thread, without any call to `record`.
#[test]
fn record_every_hands_counters_to_the_global_recorder_until_dropped() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).expect("the only global recorder of this test binary");
    pushed(1);
    pushed(1);
    pushed(1);
    let interval = std::time::Duration::from_millis(20);
    let recording = memo_runtime::metrics::record_every(interval).expect("a thread");
    let hits = r#"memo_hits_total{cache="obs.pushed",layer="l1"}"#;
    // Bounded by 500 intervals: the first recording is made at once.
    let deadline = std::time::Instant::now() + interval * 500;
    while value(&handle.render(), hits) != Some(2.0) {
        assert!(std::time::Instant::now() < deadline, "no {hits} = 2 in:\n{}", handle.render());
        std::thread::sleep(interval / 4);
    }
    pushed(1);
    while value(&handle.render(), hits) != Some(3.0) {
        assert!(std::time::Instant::now() < deadline, "no {hits} = 3 in:\n{}", handle.render());
        std::thread::sleep(interval / 4);
    }
    assert_eq!(threads_named("memo-metrics"), 1);
    // Dropping the handle ends the thread: the drop returns once it has.
    drop(recording);
    assert_eq!(threads_named("memo-metrics"), 0);
}

/// This process's threads with this name (Linux: `/proc/self/task/*/comm`).
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(Result::ok)
        .filter(|task| std::fs::read_to_string(task.path().join("comm")).is_ok_and(|comm| comm.trim_end() == name))
        .count()
}
