//! Candidate L1 engines, measured raw: a warm hit on 1,000 `u64` keys that also checks a TTL
//! against a coarse clock (one relaxed atomic load), on one thread and on two. Keys come in a
//! fixed shuffled order (each thread starting at its own place), the engines take turns in
//! rounds, and the median round is reported.
//!
//! This is the benchmark behind the L1 choice recorded in the README's design notes.
//! Run: `cargo bench -p memo-benches --bench l1_engines` (prints the table; `-- --readme` writes it into the
//! README).

#[path = "support/keys.rs"]
mod keys;
#[path = "support/readme.rs"]
mod readme;

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

const KEYS: u64 = 1_000;
const ROUNDS: usize = 11;
const PASSES: usize = 100;
static NOW_MS: AtomicU64 = AtomicU64::new(1);

#[derive(Clone)]
struct Slot {
    value: u64,
    fresh_until: u64,
}

fn fresh(slot: &Slot) -> Option<u64> {
    (NOW_MS.load(Ordering::Relaxed) < slot.fresh_until).then_some(slot.value)
}

type Hasher = foldhash::fast::RandomState;

trait Engine: Sync {
    fn get(&self, key: u64) -> Option<u64>;
}

struct SccIndex(scc::HashIndex<u64, Slot, Hasher>);
impl Engine for SccIndex {
    fn get(&self, key: u64) -> Option<u64> {
        self.0.peek_with(&key, |_, s| fresh(s)).flatten()
    }
}

struct Papaya(papaya::HashMap<u64, Slot, Hasher>);
impl Engine for Papaya {
    fn get(&self, key: u64) -> Option<u64> {
        self.0.pin().get(&key).and_then(fresh)
    }
}

struct QuickCache(quick_cache::sync::Cache<u64, Slot, quick_cache::UnitWeighter, Hasher>);
impl Engine for QuickCache {
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key).and_then(|s| fresh(&s))
    }
}

struct Moka(moka::sync::Cache<u64, u64, Hasher>);
impl Engine for Moka {
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }
}

struct MutexMap(Mutex<HashMap<u64, Slot, Hasher>>);
impl Engine for MutexMap {
    fn get(&self, key: u64) -> Option<u64> {
        self.0.lock().unwrap().get(&key).and_then(fresh)
    }
}

struct RwLockMap(RwLock<HashMap<u64, Slot, Hasher>>);
impl Engine for RwLockMap {
    fn get(&self, key: u64) -> Option<u64> {
        self.0.read().unwrap().get(&key).and_then(fresh)
    }
}

fn slot(k: u64) -> Slot {
    Slot { value: k, fresh_until: u64::MAX }
}

fn engines() -> Vec<(&'static str, Box<dyn Engine>)> {
    let hasher = Hasher::default();
    let scc = scc::HashIndex::with_hasher(hasher.clone());
    let papaya = papaya::HashMap::builder().hasher(hasher.clone()).build();
    let quick = quick_cache::sync::Cache::with(
        10_000,
        10_000,
        quick_cache::UnitWeighter,
        hasher.clone(),
        quick_cache::sync::DefaultLifecycle::default(),
    );
    let moka = moka::sync::Cache::builder()
        .max_capacity(10_000)
        .time_to_live(Duration::from_secs(300))
        .build_with_hasher(hasher.clone());
    let mut map = HashMap::with_hasher(hasher.clone());
    for k in 0..KEYS {
        let _ = scc.insert_sync(k, slot(k));
        papaya.pin().insert(k, slot(k));
        quick.insert(k, slot(k));
        moka.insert(k, k);
        map.insert(k, slot(k));
    }
    vec![
        ("scc_hash_index", Box::new(SccIndex(scc)) as Box<dyn Engine>),
        ("papaya", Box::new(Papaya(papaya))),
        ("quick_cache", Box::new(QuickCache(quick))),
        ("moka_sync", Box::new(Moka(moka))),
        ("mutex_hashmap", Box::new(MutexMap(Mutex::new(map.clone())))),
        ("rwlock_hashmap", Box::new(RwLockMap(RwLock::new(map)))),
    ]
}

/// Nanoseconds per call on each of `threads` threads, each making `PASSES` passes over the
/// shuffled keys from its own starting place.
fn on_threads(engine: &dyn Engine, threads: usize, keys: &[u64]) -> f64 {
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                let offset = t * keys.len() / threads;
                for _ in 0..PASSES {
                    for &k in keys[offset..].iter().chain(&keys[..offset]) {
                        black_box(engine.get(black_box(k)));
                    }
                }
            });
        }
    });
    start.elapsed().as_nanos() as f64 / (PASSES * keys.len()) as f64
}

fn main() {
    let _ = Hasher::default().hash_one(0u64);
    let keys = keys::shuffled(KEYS);
    let engines = engines();
    let mut one: Vec<Vec<f64>> = vec![Vec::new(); engines.len()];
    let mut two: Vec<Vec<f64>> = vec![Vec::new(); engines.len()];
    for _ in 0..ROUNDS {
        for (i, (_, engine)) in engines.iter().enumerate() {
            one[i].push(on_threads(engine.as_ref(), 1, &keys));
            two[i].push(on_threads(engine.as_ref(), 2, &keys));
        }
    }
    let mut table = format!(
        "L1 engine candidates, raw: a hit and a coarse-clock TTL check, 1,000 warm `u64` keys in a \
         fixed shuffled order, engines in turns over {ROUNDS} rounds of {PASSES} passes, medians: \
         `cargo bench -p memo-benches --bench l1_engines`. Two threads: time per call on each thread, and the calls \
         per second of both.\n\n| engine | 1 thread | 2 threads |\n|---|---|---|\n"
    );
    for (i, (name, _)) in engines.iter().enumerate() {
        let ns1 = keys::median(std::mem::take(&mut one[i]));
        let ns2 = keys::median(std::mem::take(&mut two[i]));
        table += &format!("| {name} | {ns1:.1} ns | {ns2:.1} ns ({:.0} M/s) |\n", 2e3 / ns2);
    }
    println!("{table}");
    readme::write_if_asked("l1-engines", &table);
}
