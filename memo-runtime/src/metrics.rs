//! Reporting to the [`metrics`](https://docs.rs/metrics) facade (feature `metrics`), so that
//! the Prometheus, OpenTelemetry, StatsD or any other exporter shows memo's caches.
//!
//! Load durations go to the histogram `memo_load_seconds` as each load ends. Counters are kept
//! by the caches themselves (a hit writes no shared memory, and going through a recorder on
//! every hit would cost more than the hit) and are handed to the recorder by [`record`]: call
//! it before a pull exporter renders, e.g. at the top of a `/metrics` handler. A push exporter
//! (OpenTelemetry, StatsD), which sends on its own schedule, gets them from [`record_every`]:
//! a thread that calls [`record`] at an interval for as long as its handle is kept.
//!
//! Every series is labelled `cache` with the cache's name (the function's path unless
//! `name = ".."` says otherwise), so cardinality is the number of cached functions.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `memo_hits_total` | counter | `cache`, `layer` = `request`, `l1`, `l2` |
//! | `memo_negative_hits_total` | counter | `cache` |
//! | `memo_misses_total` | counter | `cache` |
//! | `memo_coalesced_total` | counter | `cache` |
//! | `memo_loads_total` | counter | `cache` |
//! | `memo_load_errors_total` | counter | `cache` |
//! | `memo_stale_served_total` | counter | `cache` |
//! | `memo_early_refreshes_total` | counter | `cache` |
//! | `memo_stale_if_error_served_total` | counter | `cache` |
//! | `memo_timeouts_total` | counter | `cache` |
//! | `memo_evictions_total` | counter | `cache`, `cause` (`size`, `expired`) |
//! | `memo_invalidations_total` | counter | `cache`, `cause` = `key`, `all`, `tag` |
//! | `memo_entries` | gauge | `cache` |
//! | `memo_load_seconds` | histogram | `cache` |
//! | `memo_l2_operations_total` | counter | `namespace`, `result` = `hit`, `miss`, `write`, `error`, `refused`, `skipped`, `dropped`, `corrupt`, `oversized`, `wrong_type` |
//! | `memo_l2_errors_total` | counter | `namespace` |
//! | `memo_l2_invalidations_total` | counter | `namespace`, `fate` = `sent`, `coarsened` |
//! | `memo_l2_breaker_opened_total` | counter | `namespace` |
//! | `memo_l2_breaker_state` | gauge | `namespace`, `state` = `closed`, `half_open`, `open`: 1 for the breaker's state, 0 for the others |
//!
//! The L2 series are labelled by the client's namespace: one Redis client serves every cache.
//!
//! ```
//! use memo_runtime::cached;
//!
//! #[cached(ttl = 60)]
//! fn square(x: u64) -> u64 {
//!     x * x
//! }
//!
//! fn main() {
//!     // With an exporter installed (e.g. `PrometheusBuilder::new().install_recorder()`):
//!     square(2);
//!     square(2);
//!     memo_runtime::metrics::record(); // before rendering
//! }
//! ```
//!
//! With a push exporter, installed as the global recorder:
//!
//! ```
//! use std::time::Duration;
//!
//! fn main() -> std::io::Result<()> {
//!     // e.g. `metrics_exporter_statsd::StatsdBuilder::from("127.0.0.1", 8125).build(None)`,
//!     // installed with `metrics::set_global_recorder`.
//!     let _recording = memo_runtime::metrics::record_every(Duration::from_secs(10))?;
//!     // ... serve; counters reach the exporter every 10 s until `_recording` is dropped.
//!     Ok(())
//! }
//! ```

use std::collections::BTreeMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use ::metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};

use crate::stats::CacheStats;

/// Hands every cache's counters to the installed `metrics` recorder (see the module docs).
/// Caches that share a name (a `request_consistent` cache and its request memo) are summed.
pub fn record() {
    describe();
    let mut by_name: BTreeMap<String, CacheStats> = BTreeMap::new();
    for stats in crate::stats::all() {
        let sum = by_name.entry(stats.name.clone()).or_default();
        add(sum, &stats);
    }
    for (name, s) in by_name {
        let c = |metric: &'static str, value: u64| counter!(metric, "cache" => name.clone()).absolute(value);
        for (layer, value) in [("request", s.request_hits), ("l1", s.hits), ("l2", s.l2_hits)] {
            counter!("memo_hits_total", "cache" => name.clone(), "layer" => layer).absolute(value);
        }
        c("memo_negative_hits_total", s.negative_hits);
        c("memo_misses_total", s.misses);
        c("memo_coalesced_total", s.coalesced);
        c("memo_loads_total", s.loads);
        c("memo_load_errors_total", s.load_errors);
        c("memo_stale_served_total", s.stale_served);
        c("memo_early_refreshes_total", s.early_refreshes);
        c("memo_stale_if_error_served_total", s.stale_if_error_served);
        c("memo_timeouts_total", s.timeouts);
        let e = s.evictions;
        for (cause, value) in [("size", e.size), ("expired", e.expired)] {
            counter!("memo_evictions_total", "cache" => name.clone(), "cause" => cause).absolute(value);
        }
        let i = s.invalidations;
        for (cause, value) in [("key", i.keys), ("all", i.all), ("tag", i.tags)] {
            counter!("memo_invalidations_total", "cache" => name.clone(), "cause" => cause).absolute(value);
        }
        gauge!("memo_entries", "cache" => name.clone()).set(s.entries as f64);
    }
    #[cfg(feature = "redis")]
    record_l2();
}

/// Calls [`record`] every `interval` (at least 10 ms) on a thread of its own, for exporters
/// that push rather than being scraped; the first call is made at once. The global recorder
/// receives them (`metrics::set_global_recorder`; a recorder set with
/// `metrics::with_local_recorder` belongs to its own thread and sees none of this).
///
/// Recording stops, and the thread ends, when the returned [`Recording`] is dropped: keep it
/// for as long as the exporter runs.
///
/// # Errors
///
/// If the operating system cannot start the thread.
pub fn record_every(interval: Duration) -> std::io::Result<Recording> {
    let interval = interval.max(Duration::from_millis(10));
    let (stop, stopped) = mpsc::channel::<()>();
    let thread = std::thread::Builder::new().name("memo-metrics".into()).spawn(move || {
        record();
        // Nothing is ever sent: the wait ends early only when the handle's drop disconnects.
        while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
            record();
        }
    })?;
    Ok(Recording { stop: Some(stop), thread: Some(thread) })
}

/// The thread started by [`record_every`]: dropping it stops the recording and waits for the
/// thread to end (at most one [`record`] call).
#[derive(Debug)]
#[must_use = "recording stops when the `Recording` is dropped"]
pub struct Recording {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Recording {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // `record` does not panic; if a recorder did, its panic stays on that thread.
            let _ = thread.join();
        }
    }
}

/// Records one load's duration (called as each load ends).
pub(crate) fn load_seconds(cache: &std::sync::Arc<str>, took: std::time::Duration) {
    histogram!("memo_load_seconds", "cache" => std::sync::Arc::clone(cache)).record(took.as_secs_f64());
}

#[cfg(feature = "redis")]
fn record_l2() {
    use crate::l2::breaker::BreakerState;
    for l2 in crate::l2::redis::RedisL2::all() {
        let s = l2.stats();
        let namespace = l2.namespace().to_owned();
        for (result, value) in [
            ("hit", s.hits),
            ("miss", s.misses),
            ("write", s.writes),
            ("error", s.errors),
            ("refused", s.refused),
            ("skipped", s.skipped),
            ("dropped", s.dropped),
            ("corrupt", s.corrupt),
            ("oversized", s.oversized),
            ("wrong_type", s.wrong_type),
        ] {
            counter!("memo_l2_operations_total", "namespace" => namespace.clone(), "result" => result).absolute(value);
        }
        counter!("memo_l2_errors_total", "namespace" => namespace.clone()).absolute(s.errors);
        for (fate, value) in [("sent", s.invalidations_sent), ("coarsened", s.invalidations_coarsened)] {
            counter!("memo_l2_invalidations_total", "namespace" => namespace.clone(), "fate" => fate).absolute(value);
        }
        counter!("memo_l2_breaker_opened_total", "namespace" => namespace.clone()).absolute(s.breaker_opened);
        let now = l2.breaker_state();
        for (state, label) in
            [(BreakerState::Closed, "closed"), (BreakerState::HalfOpen, "half_open"), (BreakerState::Open, "open")]
        {
            let value = if state == now { 1.0 } else { 0.0 };
            gauge!("memo_l2_breaker_state", "namespace" => namespace.clone(), "state" => label).set(value);
        }
    }
}

fn add(sum: &mut CacheStats, s: &CacheStats) {
    sum.name.clone_from(&s.name);
    sum.hits += s.hits;
    sum.l2_hits += s.l2_hits;
    sum.request_hits += s.request_hits;
    sum.negative_hits += s.negative_hits;
    sum.misses += s.misses;
    sum.coalesced += s.coalesced;
    sum.loads += s.loads;
    sum.load_errors += s.load_errors;
    sum.stale_served += s.stale_served;
    sum.early_refreshes += s.early_refreshes;
    sum.stale_if_error_served += s.stale_if_error_served;
    sum.timeouts += s.timeouts;
    sum.evictions.size += s.evictions.size;
    sum.evictions.expired += s.evictions.expired;
    sum.invalidations.keys += s.invalidations.keys;
    sum.invalidations.all += s.invalidations.all;
    sum.invalidations.tags += s.invalidations.tags;
    sum.entries += s.entries;
}

/// Descriptions for exporters that print them (Prometheus `# HELP`); once per recorder.
fn describe() {
    describe_counter!("memo_hits_total", "Calls answered from a cache layer (request memo, in-process L1, Redis L2).");
    describe_counter!("memo_negative_hits_total", "Hits on negative entries (None, Ok(None)).");
    describe_counter!("memo_misses_total", "Calls no layer answered: they loaded or waited for a load.");
    describe_counter!("memo_coalesced_total", "Misses answered by another call's load of the same key.");
    describe_counter!("memo_loads_total", "Runs of the cached function's body.");
    describe_counter!("memo_load_errors_total", "Loads that returned an error, panicked or were abandoned.");
    describe_counter!("memo_stale_served_total", "Stale values served while one reload ran.");
    describe_counter!("memo_early_refreshes_total", "Reloads started before expiry by early refresh.");
    describe_counter!(
        "memo_stale_if_error_served_total",
        "Failed or timed-out loads answered with the last good value."
    );
    describe_counter!("memo_timeouts_total", "Calls that stopped waiting for a load at the timeout.");
    describe_counter!("memo_evictions_total", "Entries removed by eviction: to stay within capacity, or expired.");
    describe_counter!("memo_invalidations_total", "Invalidations by cause.");
    describe_gauge!("memo_entries", "Entries held now.");
    describe_histogram!("memo_load_seconds", Unit::Seconds, "Duration of loads.");
    describe_counter!("memo_l2_operations_total", "Redis L2 operations by result.");
    describe_counter!("memo_l2_errors_total", "Redis L2 operations that could not reach Redis (failed or timed out).");
    describe_counter!(
        "memo_l2_invalidations_total",
        "Invalidations sent to Redis and the other instances, or coarsened into clears."
    );
    describe_counter!("memo_l2_breaker_opened_total", "Times the Redis L2 circuit breaker opened.");
    describe_gauge!(
        "memo_l2_breaker_state",
        "Redis L2 circuit breaker: 1 for its state (closed, half_open, open), 0 for the others."
    );
}
