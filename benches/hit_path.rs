//! The hit path: a warm call of a cached `fn(u64) -> u64`, memo beside the `cached` crate's
//! `#[cached]` (unbounded, TTL, LRU), moka and quick_cache, on one thread, on two, and async.
//! 1,000 warm keys asked in a fixed shuffled order (each thread starting at its own place);
//! the contenders take turns in rounds, so that drift on a shared machine hits them alike, and
//! the median round is reported.
//!
//! Run: `cargo bench -p memo-benches --bench hit_path` (prints the table; `-- --readme` writes it into the
//! README).

#[path = "support/keys.rs"]
mod keys;
#[path = "support/readme.rs"]
mod readme;

use std::hint::black_box;
use std::time::{Duration, Instant};

const KEYS: u64 = 1_000;
const ROUNDS: usize = 11;
const PASSES: usize = 100;

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
    Peers {
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
    }
}

/// A named call of a cached `fn(u64) -> u64`.
type Sync<'a> = (&'static str, Box<dyn Fn(u64) -> u64 + std::marker::Sync + 'a>);

fn sync_contenders(peers: &Peers) -> Vec<Sync<'_>> {
    vec![
        ("**memo** `#[cached(ttl = 300)]`", Box::new(memo_ttl)),
        ("`cached` `#[cached]` (unbounded, no TTL)", Box::new(cached_unbounded)),
        ("`cached` `#[cached(ttl_secs = 300)]`", Box::new(cached_ttl)),
        ("`cached` `#[cached(max_size = 10_000)]` (LRU)", Box::new(cached_lru)),
        ("moka `get` (TTL 300 s)", Box::new(|k| peers.moka.get(&k).unwrap_or(0))),
        ("quick_cache `get` (no TTL)", Box::new(|k| peers.quick.get(&k).unwrap_or(0))),
    ]
}

/// Nanoseconds per call on each of `threads` threads, each making `PASSES` passes over the
/// shuffled keys from its own starting place.
fn on_threads(threads: usize, keys: &[u64], f: &(dyn Fn(u64) -> u64 + std::marker::Sync)) -> f64 {
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                let offset = t * keys.len() / threads;
                for _ in 0..PASSES {
                    for &k in keys[offset..].iter().chain(&keys[..offset]) {
                        black_box(f(black_box(k)));
                    }
                }
            });
        }
    });
    start.elapsed().as_nanos() as f64 / (PASSES * keys.len()) as f64
}

/// Nanoseconds per awaited call: `PASSES` passes over the shuffled keys.
fn time_async<F: Future<Output = u64>>(rt: &tokio::runtime::Runtime, keys: &[u64], call: impl Fn(u64) -> F) -> f64 {
    let start = Instant::now();
    rt.block_on(async {
        for _ in 0..PASSES {
            for &k in keys {
                black_box(call(black_box(k)).await);
            }
        }
    });
    start.elapsed().as_nanos() as f64 / (PASSES * keys.len()) as f64
}

fn main() {
    let keys = keys::shuffled(KEYS);
    let peers = peers();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let sync = sync_contenders(&peers);
    for (_, f) in &sync {
        keys.iter().for_each(|&k| {
            f(k);
        });
    }
    rt.block_on(async {
        for &k in &keys {
            memo_ttl_async(k).await;
            cached_ttl_async(k).await;
            peers.moka_async.insert(k, k + 1).await;
        }
    });
    let mut one: Vec<Vec<f64>> = vec![Vec::new(); sync.len()];
    let mut two: Vec<Vec<f64>> = vec![Vec::new(); sync.len()];
    let mut asynchronous: [Vec<f64>; 3] = Default::default();
    for _ in 0..ROUNDS {
        for (i, (_, f)) in sync.iter().enumerate() {
            one[i].push(on_threads(1, &keys, f.as_ref()));
            two[i].push(on_threads(2, &keys, f.as_ref()));
        }
        // Async calls in the same turns, awaited one after another on a current-thread runtime.
        let moka = &peers.moka_async;
        asynchronous[0].push(time_async(&rt, &keys, memo_ttl_async));
        asynchronous[1].push(time_async(&rt, &keys, cached_ttl_async));
        asynchronous[2].push(time_async(&rt, &keys, |k| async move { moka.get(&k).await.unwrap_or(0) }));
    }
    let mut table = format!(
        "Hit, `fn(u64) -> u64`, 1,000 warm keys in a fixed shuffled order, contenders in turns over \
         {ROUNDS} rounds of {PASSES} passes, medians: `cargo bench -p memo-benches --bench hit_path`. Two threads: time \
         per call on each thread, and the calls per second of both.\n\n\
         | contender | sync, 1 thread | sync, 2 threads | async, 1 thread |\n|---|---|---|---|\n"
    );
    let async_names =
        ["**memo** `#[cached(ttl = 300)]`", "`cached` `#[cached(ttl_secs = 300)]`", "moka `get` (TTL 300 s)"];
    for (i, (name, _)) in sync.iter().enumerate() {
        let ns1 = keys::median(std::mem::take(&mut one[i]));
        let ns2 = keys::median(std::mem::take(&mut two[i]));
        let asynchronous = async_names
            .iter()
            .position(|n| n == name)
            .map_or_else(|| "".to_owned(), |a| format!("{:.1} ns", keys::median(std::mem::take(&mut asynchronous[a]))));
        table += &format!("| {name} | {ns1:.1} ns | {ns2:.1} ns ({:.0} M/s) | {asynchronous} |\n", 2e3 / ns2);
    }
    println!("{table}");
    readme::write_if_asked("hit-path", &table);
}
