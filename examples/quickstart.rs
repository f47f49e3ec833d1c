//! A slow "database" made fast with `#[cached]`: time to live, single-flight under 100
//! concurrent callers, negative caching, and the statistics the cache kept.
//!
//! Run: `cargo run --example quickstart` (needs no Redis).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use memo_runtime::cached;

#[derive(Clone, Debug)]
struct Product {
    id: u64,
    name: String,
    price_cents: u64,
}

#[derive(Debug)]
struct DbError;

/// Queries the "database" has answered.
static QUERIES: AtomicU64 = AtomicU64::new(0);

/// One product by id: a 50 ms query; ids above 100 do not exist.
#[cached(ttl = "1s", negative_ttl = "500ms", capacity = 10_000)]
async fn load_product(id: u64) -> Result<Option<Product>, DbError> {
    QUERIES.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok((id <= 100).then(|| Product { id, name: format!("product {id}"), price_cents: 199 * id }))
}

fn queries() -> u64 {
    QUERIES.load(Ordering::SeqCst)
}

async fn timed<T>(f: impl Future<Output = T>) -> (T, Duration) {
    let start = Instant::now();
    let out = f.await;
    (out, start.elapsed())
}

#[tokio::main]
async fn main() -> Result<(), DbError> {
    println!("memo quickstart: a 50 ms database query behind #[cached(ttl = \"1s\", negative_ttl = \"500ms\")]\n");

    let (product, took) = timed(load_product(1)).await;
    let product = product?.expect("product 1 exists");
    println!(
        "1. cold call      product {} ({}, {} cents) in {took:.1?}   queries so far: {}",
        product.id,
        product.name,
        product.price_cents,
        queries()
    );

    let (_, took) = timed(load_product(1)).await;
    println!("2. warm call      product 1 in {took:.1?}   queries so far: {}", queries());

    let before = queries();
    let (answers, took) = timed(async {
        let callers: Vec<_> = (0..100).map(|_| tokio::spawn(load_product(2))).collect();
        let mut answers = 0;
        for caller in callers {
            if matches!(caller.await, Ok(Ok(Some(_)))) {
                answers += 1;
            }
        }
        answers
    })
    .await;
    println!(
        "3. single-flight  {answers} concurrent callers for cold product 2 answered in {took:.1?} by {} query",
        queries() - before
    );

    let before = queries();
    let (missing, _) = timed(load_product(999)).await;
    let (again, took) = timed(load_product(999)).await;
    println!(
        "4. negative       product 999: {:?}, asked again: {:?} in {took:.1?} (queries: {}, kept for 500 ms)",
        missing?.map(|p| p.id),
        again?.map(|p| p.id),
        queries() - before
    );

    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let before = queries();
    let (_, took) = timed(load_product(1)).await;
    println!("5. expiry         after 1.1 s product 1 is reloaded in {took:.1?} (queries: {})", queries() - before);

    let stats = load_product::stats();
    println!("\nstats of {}:", stats.name);
    println!(
        "  hits {} (negative {}), misses {}, waited on another call's load {}",
        stats.hits, stats.negative_hits, stats.misses, stats.coalesced
    );
    println!(
        "  loads {} (errors {}), entries {}, hit ratio {:.1}%",
        stats.loads,
        stats.load_errors,
        stats.entries,
        stats.hit_ratio() * 100.0
    );
    println!("  load time p50 {:?}, p99 {:?}, max {:?}", stats.load_time.p50, stats.load_time.p99, stats.load_time.max);
    println!("\nthe database answered {} queries for {} calls", queries(), stats.hits + stats.misses);
    Ok(())
}
