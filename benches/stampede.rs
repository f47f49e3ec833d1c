//! Stampede: cold keys hit by many concurrent callers, with a 50 ms loader.
//!
//! - `one_key`: 1,000 tasks call one cold key at once.
//! - `hundred_keys`: 100 cold keys, 10 tasks each, all at once.
//!
//! memo's async `#[cached]` beside the `cached` crate's async `#[cached]` with
//! `sync_writes = true` and `sync_writes = "by_key"`, and moka's `get_with`. Criterion reports
//! the wall time of one whole stampede; the loader runs per stampede are counted in a first
//! pass and printed (and must be 1 and 100 for memo).
//!
//! Run: `cargo bench -p memo-benches --bench stampede`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

const LOAD: Duration = Duration::from_millis(50);

static RUNS: AtomicU64 = AtomicU64::new(0);
static NEXT_BASE: AtomicU64 = AtomicU64::new(0);

async fn load(key: u64) -> u64 {
    RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(LOAD).await;
    key
}

#[memo_runtime::cached(ttl = 300, capacity = 1_000_000)]
async fn memo_get(key: u64) -> u64 {
    load(key).await
}

#[cached::proc_macro::cached(ttl_secs = 300, sync_writes = true)]
async fn cached_sync_writes(key: u64) -> u64 {
    load(key).await
}

#[cached::proc_macro::cached(ttl_secs = 300, sync_writes = "by_key")]
async fn cached_by_key(key: u64) -> u64 {
    load(key).await
}

type Contender = Arc<dyn Fn(u64) -> std::pin::Pin<Box<dyn Future<Output = u64> + Send>> + Send + Sync>;

fn contenders() -> Vec<(&'static str, Contender)> {
    let moka: moka::future::Cache<u64, u64> =
        moka::future::Cache::builder().max_capacity(1_000_000).time_to_live(Duration::from_secs(300)).build();
    vec![
        ("memo", Arc::new(|k| Box::pin(memo_get(k)))),
        ("cached_sync_writes", Arc::new(|k| Box::pin(cached_sync_writes(k)))),
        ("cached_by_key", Arc::new(|k| Box::pin(cached_by_key(k)))),
        (
            "moka_get_with",
            Arc::new(move |k| {
                let moka = moka.clone();
                Box::pin(async move { moka.get_with(k, load(k)).await })
            }),
        ),
    ]
}

/// One stampede on fresh keys: `keys` cold keys, `callers` tasks each. Returns the wall time
/// and the loader runs it caused.
async fn stampede(f: &Contender, keys: u64, callers: u64) -> (Duration, u64) {
    let base = NEXT_BASE.fetch_add(keys, Ordering::SeqCst);
    let runs_before = RUNS.load(Ordering::SeqCst);
    let start = Instant::now();
    let tasks: Vec<_> =
        (0..keys).flat_map(|k| (0..callers).map(move |_| base + k)).map(|k| tokio::spawn(f(k))).collect();
    for task in tasks {
        task.await.expect("caller");
    }
    (start.elapsed(), RUNS.load(Ordering::SeqCst) - runs_before)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_time().build().expect("runtime");
    let contenders = contenders();
    let mut runs_report = String::new();
    for (scenario, keys, callers) in [("one_key_1000_callers", 1, 1_000), ("hundred_keys_10_callers", 100, 10)] {
        println!("\n{scenario}: loader runs per stampede (50 ms loader)");
        for (name, f) in &contenders {
            let (took, runs) = rt.block_on(stampede(f, keys, callers));
            println!("  {name:<20} runs {runs:>4}   wall {:>7.1} ms", took.as_secs_f64() * 1e3);
            runs_report.push_str(&format!("stampede_{scenario} {name} {runs}\n"));
        }
        let mut group = c.benchmark_group(format!("stampede_{scenario}"));
        group.sample_size(10).measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(200));
        for (name, f) in &contenders {
            group.bench_function(*name, |b| {
                b.iter_custom(|iters| (0..iters).map(|_| rt.block_on(stampede(f, keys, callers)).0).sum())
            });
        }
        group.finish();
    }
    // Read by `benches/table.py`, which writes the README's benchmark table.
    let dir =
        std::path::Path::new(&std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into())).join("criterion");
    if std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(dir.join("stampede_runs.txt"), runs_report)).is_err()
    {
        eprintln!("could not write the loader-run counts under {}", dir.display());
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
