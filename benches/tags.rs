//! Tags: what `invalidate_tag` costs beside a large cache, and what tags add to a hit.
//!
//! Run: `cargo bench --bench tags`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use memo_runtime::Cache;

const KEYS: u64 = 1_000;

#[memo_runtime::cached(ttl = 300)]
fn no_tags(x: u64) -> u64 {
    x + 1
}

#[memo_runtime::cached(ttl = 300, tags = [format!("bench:one:{x}")])]
fn one_tag(x: u64) -> u64 {
    x + 1
}

#[memo_runtime::cached(ttl = 300, tags = [format!("bench:a:{x}"), format!("bench:b:{x}"), format!("bench:c:{x}"), "bench:d", "bench:e"])]
fn five_tags(x: u64) -> u64 {
    x + 1
}

fn hits(c: &mut Criterion) {
    let mut group = c.benchmark_group("tagged_hit_1_thread");
    group.throughput(Throughput::Elements(1));
    for (name, f) in [("0_tags", no_tags as fn(u64) -> u64), ("1_tag", one_tag), ("5_tags", five_tags)] {
        for k in 0..KEYS {
            f(k);
        }
        let mut key = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                key = if key + 1 == KEYS { 0 } else { key + 1 };
                black_box(f(black_box(key)))
            })
        });
    }
    group.finish();
}

/// A cache of `entries` entries, `tagged` of which carry the tag `bench:hot`.
fn filled(entries: u64, tagged: u64) -> Cache<u64, u64> {
    let cache = Cache::builder().capacity(entries as usize + 1).ttl(Duration::from_secs(3_600)).build();
    for k in 0..entries {
        if k < tagged {
            cache.insert_with_tags(k, k, ["bench:hot"]);
        } else {
            cache.insert(k, k);
        }
    }
    cache
}

fn invalidation(c: &mut Criterion) {
    let mut group = c.benchmark_group("invalidate_tag");
    for (name, entries, tagged) in
        [("cache_1k_entries_10_tagged", 1_000, 10), ("cache_1m_entries_10k_tagged", 1_000_000, 10_000)]
    {
        let cache = filled(entries, tagged);
        group.bench_function(name, |b| b.iter(|| memo_runtime::invalidate_tag(black_box("bench:hot"))));
        // The lazy part: reading every tagged entry once after an invalidation.
        group.bench_function(format!("{name}_then_read_tagged"), |b| {
            b.iter_batched(
                || memo_runtime::invalidate_tag("bench:hot"),
                |()| {
                    for k in 0..tagged {
                        black_box(cache.get(&k));
                    }
                },
                BatchSize::SmallInput,
            )
        });
        drop(cache);
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = hits, invalidation
}
criterion_main!(benches);
