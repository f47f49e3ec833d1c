//! What a miss costs: a cold key and a trivial body, so the figure is the cache's own work
//! (lookup, single-flight, store, eviction). Growing: the cache has room for every key.
//! Evicting: it is full, so every miss also evicts. One thread, and two threads on disjoint
//! keys (total misses per second). Keys are scattered by a bijective hash, contenders run in
//! turns over several rounds, and the medians are reported.
//!
//! Run: `cargo bench -p memo-benches --bench miss_path` (prints the table; `-- --readme` writes it into the
//! README).

#[path = "support/readme.rs"]
mod readme;

use std::time::Instant;

use memo_runtime::{Cache, Load};

const MISSES: u64 = 200_000;
const ROUNDS: usize = 7;
const EVICTING_CAPACITY: usize = 10_000;

/// splitmix64's finalizer: a bijection, so keys are distinct and in no useful order.
fn scatter(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A cache under test: built for a capacity, then asked for keys it does not hold.
trait Contender: Sync {
    fn miss(&self, key: u64) -> u64;
}

struct Memo(Cache<u64, u64>);
impl Contender for Memo {
    fn miss(&self, key: u64) -> u64 {
        self.0.get_or_load(key, Load::value(|| key ^ 1))
    }
}

struct QuickCache(quick_cache::sync::Cache<u64, u64>);
impl Contender for QuickCache {
    fn miss(&self, key: u64) -> u64 {
        self.0.get_or_insert_with(&key, || Ok::<_, ()>(key ^ 1)).unwrap_or(0)
    }
}

struct Moka(moka::sync::Cache<u64, u64>);
impl Contender for Moka {
    fn miss(&self, key: u64) -> u64 {
        self.0.get_with(key, || key ^ 1)
    }
}

struct CachedLru(std::sync::Mutex<cached::LruCache<u64, u64>>);
impl Contender for CachedLru {
    fn miss(&self, key: u64) -> u64 {
        use cached::Cached;
        let mut cache = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *cache.cache_get_or_set_with(key, || key ^ 1)
    }
}

fn build(name: &str, capacity: usize) -> Box<dyn Contender> {
    match name {
        "memo" => Box::new(Memo(Cache::builder().capacity(capacity).build())),
        "quick_cache" => Box::new(QuickCache(quick_cache::sync::Cache::new(capacity))),
        "moka" => Box::new(Moka(moka::sync::Cache::new(capacity as u64))),
        "`cached` LRU" => Box::new(CachedLru(std::sync::Mutex::new(cached::LruCache::new(capacity)))),
        other => panic!("unknown contender {other}"),
    }
}

/// Nanoseconds per miss (per thread) for one run: a fresh cache, filled first when evicting.
fn run(name: &str, evicting: bool, threads: u64) -> f64 {
    let capacity = if evicting { EVICTING_CAPACITY } else { (MISSES * threads) as usize };
    let cache = build(name, capacity);
    // Keys from a range no run of the measured loop uses.
    if evicting {
        for i in 0..EVICTING_CAPACITY as u64 {
            cache.miss(scatter(u64::MAX - i));
        }
    }
    let cache = &*cache;
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                for i in t * MISSES..(t + 1) * MISSES {
                    std::hint::black_box(cache.miss(scatter(i)));
                }
            });
        }
    });
    started.elapsed().as_nanos() as f64 / MISSES as f64
}

fn main() {
    let names = ["memo", "quick_cache", "moka", "`cached` LRU"];
    let cases = [("growing", false, 1), ("growing", false, 2), ("evicting", true, 1), ("evicting", true, 2)];
    let mut table = String::from(
        "Cost of a miss (cold key, trivial body), ns per miss on each thread and total misses per \
         second; 200,000 misses a thread, a fresh cache each run (evicting: capacity 10,000, filled \
         first), contenders in turns over 7 rounds, medians: `cargo bench -p memo-benches --bench miss_path`.\n\n\
         | case | threads |",
    );
    for name in names {
        table += &format!(" {name} |");
    }
    table += &format!("\n|---|---|{}\n", "---|".repeat(names.len()));
    for (case, evicting, threads) in cases {
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
        for _ in 0..ROUNDS {
            for (i, name) in names.iter().enumerate() {
                times[i].push(run(name, evicting, threads));
            }
        }
        table += &format!("| {case} | {threads} |");
        for (i, name) in names.iter().enumerate() {
            times[i].sort_by(f64::total_cmp);
            let ns = times[i][ROUNDS / 2];
            let per_second = threads as f64 * 1e3 / ns;
            eprintln!("{case} {threads} {name}: {ns:.0} ns ({:.0?})", times[i]);
            table += &format!(" {ns:.0} ns ({per_second:.1} M/s) |");
        }
        table += "\n";
    }
    println!("{table}");
    readme::write_if_asked("miss-path", &table);
}
