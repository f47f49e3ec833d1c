//! Candidate L1 engines, measured raw: a warm hit on 1,000 `u64` keys that also checks a TTL
//! against a coarse clock (one relaxed atomic load), on one thread and on two.
//!
//! This is the benchmark behind the L1 choice recorded in the README's design notes.
//! Run: `cargo bench --bench l1_engines`.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const KEYS: u64 = 1_000;
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

fn run(engine: &dyn Engine, threads: u64, iters: u64) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                let mut key = t * 7919;
                for _ in 0..iters {
                    key = (key + 1) % KEYS;
                    black_box(engine.get(black_box(key)));
                }
            });
        }
    });
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let _ = Hasher::default().hash_one(0u64);
    let engines = engines();
    let mut one = c.benchmark_group("l1_engine_hit_1_thread");
    one.throughput(Throughput::Elements(KEYS));
    for (name, engine) in &engines {
        one.bench_function(*name, |b| {
            b.iter(|| {
                let mut key = 0;
                for _ in 0..KEYS {
                    key = (key + 1) % KEYS;
                    black_box(engine.get(black_box(key)));
                }
            })
        });
    }
    one.finish();
    let mut two = c.benchmark_group("l1_engine_hit_2_threads");
    two.throughput(Throughput::Elements(2));
    for (name, engine) in &engines {
        two.bench_function(*name, |b| b.iter_custom(|iters| run(engine.as_ref(), 2, iters)));
    }
    two.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
