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
    assert_eq!(series(r#"memo_l2_breaker_state{namespace="obs-unreachable"}"#), 2.0, "open");
    assert!(series(r#"memo_l2_operations_total{namespace="obs-unreachable",result="skipped"}"#) > 0.0);
}
