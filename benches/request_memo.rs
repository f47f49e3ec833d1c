//! A request-memo hit beside an uncontended `Mutex<HashMap>` hit and a `#[cached]` L1 hit:
//! a warm call of `fn(u64) -> u64` over 1,000 keys, inside one request scope.
//!
//! Run: `cargo bench --bench request_memo`.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use memo_runtime::Scope;

const KEYS: u64 = 1_000;

#[memo_runtime::request_memo]
fn request_memoized(x: u64) -> u64 {
    x + 1
}

#[memo_runtime::cached(ttl = 300)]
fn cached_l1(x: u64) -> u64 {
    x + 1
}

fn next(key: u64) -> u64 {
    if key + 1 == KEYS { 0 } else { key + 1 }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("request_memo_hit");
    group.throughput(Throughput::Elements(1));

    let map: Mutex<HashMap<u64, u64, foldhash::fast::RandomState>> =
        Mutex::new((0..KEYS).map(|k| (k, k + 1)).collect());
    let mut key = 0;
    group.bench_function("mutex_hashmap", |b| {
        b.iter(|| {
            key = next(key);
            black_box(map.lock().unwrap().get(&black_box(key)).copied())
        })
    });

    Scope::new().run_sync(|| {
        for k in 0..KEYS {
            request_memoized(k);
        }
        let mut key = 0;
        group.bench_function("request_memo", |b| {
            b.iter(|| {
                key = next(key);
                black_box(request_memoized(black_box(key)))
            })
        });
    });

    for k in 0..KEYS {
        cached_l1(k);
    }
    let mut key = 0;
    group.bench_function("cached_l1", |b| {
        b.iter(|| {
            key = next(key);
            black_box(cached_l1(black_box(key)))
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
