//! Hit ratio: the same seeded key streams replayed on memo's L1, moka, quick_cache and the
//! `cached` crate's LRU, each holding at most 10,000 entries, beside eviction policies
//! simulated on one thread (SIEVE, S3-FIFO, W-TinyLFU) and Belady's optimum as the ceiling.
//! A miss is one run of the body: for a service, one call that reaches the database.
//!
//! Run: `cargo bench -p memo-benches --bench hit_ratio` (prints the table);
//! `cargo bench -p memo-benches --bench hit_ratio -- --readme` also writes it into the README.

mod policies;
#[path = "../support/readme.rs"]
mod readme;
mod streams;

use std::cell::Cell;
use std::time::Instant;

use cached::Cached;
use memo_runtime::{Cache, Load};

use policies::{Belady, Policy, S3Fifo, Sieve, WTinyLfu};
use streams::Rng;

const CAPACITY: usize = 10_000;
const REQUESTS: usize = 2_000_000;
const SEED: u64 = 0x6d65_6d6f;
const RUNS: usize = 3;

struct Stream {
    name: &'static str,
    keys: Vec<u64>,
}

fn streams() -> Vec<Stream> {
    let mut rng = Rng::new(SEED);
    vec![
        Stream { name: "Zipf s=0.8 over 1M keys", keys: streams::zipf(0.8, 1_000_000, REQUESTS, &mut rng) },
        Stream { name: "Zipf s=1.0 over 1M keys", keys: streams::zipf(1.0, 1_000_000, REQUESTS, &mut rng) },
        Stream {
            name: "Zipf s=1.0 with 10 scans of 50,000 one-time keys",
            keys: streams::with_scans(streams::zipf(1.0, 1_000_000, REQUESTS, &mut rng), 10, 50_000),
        },
        Stream { name: "a loop over 12,000 keys", keys: streams::looping(12_000, REQUESTS) },
    ]
}

/// A cache replayed on a stream: requests answered without running the body.
type Contender = fn(&[u64]) -> u64;

fn memo(stream: &[u64]) -> u64 {
    let cache: Cache<u64, u64> = Cache::builder().capacity(CAPACITY).build();
    let loads = Cell::new(0u64);
    for &key in stream {
        cache.get_or_load(
            key,
            Load::value(|| {
                loads.set(loads.get() + 1);
                key
            }),
        );
    }
    stream.len() as u64 - loads.get()
}

fn moka(stream: &[u64]) -> u64 {
    let cache: moka::sync::Cache<u64, u64> = moka::sync::Cache::new(CAPACITY as u64);
    let loads = Cell::new(0u64);
    for &key in stream {
        cache.get_with(key, || {
            loads.set(loads.get() + 1);
            key
        });
    }
    stream.len() as u64 - loads.get()
}

fn quick_cache(stream: &[u64]) -> u64 {
    let cache: quick_cache::sync::Cache<u64, u64> = quick_cache::sync::Cache::new(CAPACITY);
    let loads = Cell::new(0u64);
    for &key in stream {
        let _ = cache.get_or_insert_with(&key, || {
            loads.set(loads.get() + 1);
            Ok::<_, ()>(key)
        });
    }
    stream.len() as u64 - loads.get()
}

fn cached_lru(stream: &[u64]) -> u64 {
    let mut cache = cached::LruCache::new(CAPACITY);
    let mut loads = 0u64;
    for &key in stream {
        cache.cache_get_or_set_with(key, || {
            loads += 1;
            key
        });
    }
    stream.len() as u64 - loads
}

fn sieve(stream: &[u64]) -> u64 {
    Sieve::new(CAPACITY).hits(stream)
}

fn s3_fifo(stream: &[u64]) -> u64 {
    S3Fifo::new(CAPACITY).hits(stream)
}

fn s3_fifo_gated(stream: &[u64]) -> u64 {
    S3Fifo::gated(CAPACITY).hits(stream)
}

fn w_tinylfu(stream: &[u64]) -> u64 {
    WTinyLfu::new(CAPACITY).hits(stream)
}

fn optimum(stream: &[u64]) -> u64 {
    Belady::new(CAPACITY).hits(stream)
}

fn main() {
    let streams = streams();
    let contenders: [(&str, Contender); 9] = [
        ("memo", memo),
        ("moka (W-TinyLFU)", moka),
        ("quick_cache (S3-FIFO-like)", quick_cache),
        ("`cached` LRU", cached_lru),
        ("SIEVE", sieve),
        ("S3-FIFO", s3_fifo),
        ("W-TinyLFU", w_tinylfu),
        ("S3-FIFO, gated readmission", s3_fifo_gated),
        ("optimum (Belady)", optimum),
    ];
    let header: String = contenders.iter().map(|(name, _)| format!(" {name} |")).collect();
    let rule = "---|".repeat(contenders.len());
    let mut rows = Vec::new();
    for stream in &streams {
        let mut row = format!("| {} |", stream.name);
        let total = stream.keys.len() as f64;
        for (name, run) in &contenders {
            let started = Instant::now();
            // Hashers (and moka's sketch) are seeded per process: the median of a few runs.
            let mut ratios: Vec<f64> = (0..RUNS).map(|_| 100.0 * run(&stream.keys) as f64 / total).collect();
            ratios.sort_by(f64::total_cmp);
            let ratio = ratios[RUNS / 2];
            let seconds = started.elapsed().as_secs_f64();
            eprintln!("{:<50} {name:<28} {ratio:6.2}% ({ratios:.2?}, {seconds:.1} s)", stream.name);
            row += &format!(" {ratio:.1}% |");
        }
        rows.push(row);
    }
    let table = format!(
        "Hit ratio, capacity 10,000 entries, 2,000,000 requests a stream (the scan stream adds its \
         500,000 one-time keys), one thread: `cargo bench -p memo-benches --bench hit_ratio`. Streams are seeded, and \
         keys are ranks scattered by a bijective hash, so popular keys are not neighbours. The first \
         four columns are the caches themselves; the next four are policies simulated over a plain \
         map (`benches/hit_ratio/policies.rs`); Belady's optimum sees the future. Median of 3 runs \
         (hashers are seeded per run).\n\n\
         | stream |{header}\n|---|{rule}\n{}\n",
        rows.join("\n")
    );
    println!("{table}");
    readme::write_if_asked("hit-ratio", &table);
}
