//! The L2 read path against a real `redis-server` on loopback: a memo L2 hit (L1 kept empty)
//! beside a raw `GET` of the same bytes on the same kind of connection and beside the `cached`
//! crate's `AsyncRedisCache`, interleaved in rounds (median of the rounds' means); the latency a stopped Redis adds once the breaker is open; and
//! the envelope's size and encode/decode time for a ~200-byte and a ~20 KB value.
//!
//! Run: `cargo bench -p memo-benches --bench l2` (starts its own `redis-server`).

#[path = "../tests/support/redis_server.rs"]
mod redis_server;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cached::ConcurrentCachedAsync;
use criterion::{Criterion, criterion_group, criterion_main};
use memo_runtime::l2::envelope::{self, Limits, Meta};
use memo_runtime::l2::keys::KeyBytes;
use memo_runtime::outcome::ResultShape;
use memo_runtime::{Cache, Load, Memo};
use redis_server::RedisServer;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Product {
    id: u64,
    name: String,
    description: String,
    price_cents: u32,
    categories: Vec<String>,
}

fn product(id: u64, description_words: usize) -> Product {
    let words: Vec<&str> =
        ["sturdy", "kettle", "steel", "blue", "lid"].into_iter().cycle().take(description_words).collect();
    Product {
        id,
        name: format!("product {id}"),
        description: words.join(" "),
        price_cents: 1_999,
        categories: vec!["kitchen".into(), "appliances".into()],
    }
}

type Shape = ResultShape<Product, String>;

fn bench(c: &mut Criterion) {
    // One thread: the three contenders see the same scheduling, and loopback latency is steadier.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mut server = RedisServer::start();
    let l2 =
        Memo::builder().redis(server.url()).namespace("bench").l2_timeout(Duration::from_millis(50)).connect().unwrap();
    // Capacity 0: L1 keeps nothing, so every call reads the L2.
    let memo: &'static Cache<u64, Product> = Box::leak(Box::new(
        Cache::builder().name("bench::product").ttl(Duration::from_secs(3_600)).capacity(0).l2(Arc::clone(&l2)).build(),
    ));
    let value = product(1, 20);
    let key = memo_runtime::l2::keys::entry_key("bench", "bench::product", 0, &KeyBytes::of(&1u64).unwrap());
    let meta = Meta {
        created_at: memo_runtime::clock::now_millis(),
        fresh_until: u64::MAX / 2,
        stale_until: u64::MAX / 2,
        ..Meta::default()
    };
    let bytes = envelope::encode(&meta, &[] as &[&str], &KeyBytes::of(&1u64).unwrap(), &value).unwrap();
    server.cli(&["SET", &key, "placeholder"]);
    let raw = rt.block_on(async {
        let client = redis::Client::open(server.url()).unwrap();
        let mut connection = redis::aio::ConnectionManager::new(client).await.unwrap();
        let _: () = redis::cmd("SET").arg(&key).arg(&bytes).query_async(&mut connection).await.unwrap();
        connection
    });
    let peer: cached::AsyncRedisCache<u64, Product> = rt.block_on(async {
        cached::AsyncRedisCache::builder("bench-peer")
            .connection_string(&server.url())
            .ttl(Duration::from_secs(3_600))
            .connection_manager(true)
            .build()
            .await
            .expect("cached's AsyncRedisCache")
    });
    rt.block_on(async { peer.async_cache_set(1, value.clone()).await.unwrap() });
    let load = || Load::new(Shape::default(), async { Err::<Product, String>("not in the L2".into()) });
    assert_eq!(rt.block_on(memo.through_l2().get_or_load_async(1, load())), Ok(value.clone()));

    // The three read the same bytes from the same server: they are measured in rounds, each
    // round running every contender in turn (loopback latency drifts on a shared machine), and
    // the median of the rounds' means is reported.
    let rounds = 21;
    let calls = 400;
    let mut means: [Vec<f64>; 3] = Default::default();
    for round in 0..rounds {
        for turn in 0..3 {
            let which = (round + turn) % 3;
            let started = Instant::now();
            rt.block_on(async {
                for _ in 0..calls {
                    match which {
                        0 => {
                            let mut connection = raw.clone();
                            let bytes: Vec<u8> =
                                redis::cmd("GET").arg(&key).query_async(&mut connection).await.unwrap();
                            black_box(bytes);
                        }
                        1 => drop(black_box(memo.through_l2().get_or_load_async(1, load()).await)),
                        _ => drop(black_box(peer.async_cache_get(&1).await.unwrap())),
                    }
                }
            });
            means[which].push(started.elapsed().as_nanos() as f64 / f64::from(calls));
        }
    }
    let names = ["raw_redis_get", "memo_l2_hit", "cached_async_redis_cache"];
    let mut report = String::new();
    for (name, mut samples) in names.into_iter().zip(means) {
        samples.sort_by(f64::total_cmp);
        let median = samples[samples.len() / 2];
        println!("l2_hit_200B/{name}: median of {rounds} rounds {:.1} µs", median / 1e3);
        report.push_str(&format!("{name} {median:.0}\n"));
    }
    // Read by `benches/table.py`.
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).join("target").join("criterion");
    let _ = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(dir.join("l2_hit.txt"), report));

    // Redis stopped: the added latency per call once the breaker is open.
    server.kill();
    let plain: &'static Cache<u64, Product> =
        Box::leak(Box::new(Cache::builder().ttl(Duration::from_secs(3_600)).capacity(0).build()));
    let ok = || Load::new(Shape::default(), async { Ok::<Product, String>(product(1, 20)) });
    let p99 = |with_l2: bool| {
        let mut samples: Vec<Duration> = (0..20_000)
            .map(|_| {
                let start = Instant::now();
                let _ = rt.block_on(async {
                    if with_l2 {
                        black_box(memo.through_l2().get_or_load_async(1, ok()).await)
                    } else {
                        black_box(plain.through_l2().get_or_load_async(1, ok()).await)
                    }
                });
                start.elapsed()
            })
            .collect();
        samples.sort();
        samples[samples.len() * 99 / 100]
    };
    let _ = p99(true); // let the breaker open
    let (with_l2, without) = (p99(true), p99(false));
    let line = format!(
        "Redis stopped, breaker {:?}: p99 per call {with_l2:.1?} with the L2 configured, {without:.1?} without; added {:.1?}",
        l2.breaker_state(),
        with_l2.saturating_sub(without)
    );
    println!("\n{line}");
    let _ = std::fs::write(dir.join("l2_breaker.txt"), &line);

    for (label, value) in [("200B", product(2, 20)), ("20KB", product(3, 3_000))] {
        let key = KeyBytes::of(&2u64).unwrap();
        let bytes = envelope::encode(&meta, &["product:2"], &key, &value).unwrap();
        println!("envelope {label}: {} bytes", bytes.len());
        let mut group = c.benchmark_group(format!("envelope_{label}"));
        group.bench_function("encode", |b| {
            b.iter(|| envelope::encode(&meta, &["product:2"], &key, black_box(&value)).unwrap())
        });
        group.bench_function("decode", |b| {
            b.iter(|| {
                envelope::decode(black_box(&bytes), &Limits::default()).unwrap().value_for::<Product>(&key).unwrap()
            })
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
