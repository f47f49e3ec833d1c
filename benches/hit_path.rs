//! The hit path: a warm call of a cached `fn(u64) -> u64` over 1,000 keys, memo beside the
//! `cached` crate's `#[cached]` (unbounded, TTL, LRU), raw moka and raw quick_cache.
//!
//! Run: `cargo bench --bench hit_path`. Every figure is time per call (and calls per second).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const KEYS: u64 = 1_000;

#[memo_runtime::cached(ttl = 300)]
fn memo_ttl(x: u64) -> u64 {
    x + 1
}

#[memo_runtime::cached(ttl = 300)]
async fn memo_ttl_async(x: u64) -> u64 {
    x + 1
}

#[cached::proc_macro::cached]
fn cached_unbounded(x: u64) -> u64 {
    x + 1
}

#[cached::proc_macro::cached(ttl_secs = 300)]
fn cached_ttl(x: u64) -> u64 {
    x + 1
}

#[cached::proc_macro::cached(max_size = 10_000)]
fn cached_lru(x: u64) -> u64 {
    x + 1
}

#[cached::proc_macro::cached(ttl_secs = 300)]
async fn cached_ttl_async(x: u64) -> u64 {
    x + 1
}

type Hasher = foldhash::fast::RandomState;

struct Peers {
    moka: moka::sync::Cache<u64, u64, Hasher>,
    moka_async: moka::future::Cache<u64, u64, Hasher>,
    quick: quick_cache::sync::Cache<u64, u64, quick_cache::UnitWeighter, Hasher>,
}

fn peers() -> Peers {
    let ttl = Duration::from_secs(300);
    let peers = Peers {
        moka: moka::sync::Cache::builder().max_capacity(10_000).time_to_live(ttl).build_with_hasher(Hasher::default()),
        moka_async: moka::future::Cache::builder()
            .max_capacity(10_000)
            .time_to_live(ttl)
            .build_with_hasher(Hasher::default()),
        quick: quick_cache::sync::Cache::with(
            10_000,
            10_000,
            quick_cache::UnitWeighter,
            Hasher::default(),
            quick_cache::sync::DefaultLifecycle::default(),
        ),
    };
    for k in 0..KEYS {
        peers.moka.insert(k, k + 1);
        peers.quick.insert(k, k + 1);
    }
    peers
}

/// Runs `calls` calls of `f` over the warm keys on each of `threads` threads.
fn on_threads(threads: u64, calls: u64, f: &(dyn Fn(u64) -> u64 + Sync)) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                let mut key = t * 500;
                for _ in 0..calls {
                    key = if key + 1 == KEYS { 0 } else { key + 1 };
                    black_box(f(black_box(key)));
                }
            });
        }
    });
    start.elapsed()
}

/// A named call of a cached `fn(u64) -> u64`.
type Candidate<'a> = (&'static str, Box<dyn Fn(u64) -> u64 + Sync + 'a>);

fn sync_candidates(peers: &Peers) -> Vec<Candidate<'_>> {
    vec![
        ("memo_ttl", Box::new(memo_ttl)),
        ("cached_unbounded", Box::new(cached_unbounded)),
        ("cached_ttl", Box::new(cached_ttl)),
        ("cached_lru", Box::new(cached_lru)),
        ("moka_ttl", Box::new(|k| peers.moka.get(&k).unwrap_or(0))),
        ("quick_cache", Box::new(|k| peers.quick.get(&k).unwrap_or(0))),
    ]
}

fn sync_hits(c: &mut Criterion) {
    let peers = peers();
    let candidates = sync_candidates(&peers);
    for (_, f) in &candidates {
        for k in 0..KEYS {
            f(k);
        }
    }
    let mut one = c.benchmark_group("sync_hit_1_thread");
    one.throughput(Throughput::Elements(1));
    for (name, f) in &candidates {
        one.bench_function(*name, |b| b.iter_custom(|iters| on_threads(1, iters, f.as_ref())));
    }
    one.finish();
    let mut two = c.benchmark_group("sync_hit_2_threads");
    two.throughput(Throughput::Elements(2));
    for (name, f) in &candidates {
        two.bench_function(*name, |b| b.iter_custom(|iters| on_threads(2, iters, f.as_ref())));
    }
    two.finish();
}

fn async_hits(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let peers = peers();
    rt.block_on(async {
        for k in 0..KEYS {
            memo_ttl_async(k).await;
            cached_ttl_async(k).await;
            peers.moka_async.insert(k, k + 1).await;
        }
    });
    let mut group = c.benchmark_group("async_hit_1_thread");
    group.throughput(Throughput::Elements(1));
    macro_rules! bench_async {
        ($name:literal, |$k:ident| $call:expr) => {
            group.bench_function($name, |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        let mut $k = 0;
                        for _ in 0..iters {
                            $k = if $k + 1 == KEYS { 0 } else { $k + 1 };
                            black_box($call);
                        }
                        start.elapsed()
                    })
                })
            });
        };
    }
    bench_async!("memo_ttl", |k| memo_ttl_async(black_box(k)).await);
    bench_async!("cached_ttl", |k| cached_ttl_async(black_box(k)).await);
    bench_async!("moka_ttl", |k| peers.moka_async.get(&black_box(k)).await);
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = sync_hits, async_hits
}
criterion_main!(benches);
