//! What memo's wrapper costs on a hit: a warm `#[cached]` call beside the bare engine it wraps,
//! an `scc::HashIndex` lookup with a coarse-clock freshness check and a clone of the value, in
//! the same run. 1,000 warm keys asked in a shuffled order; the contenders take turns in rounds
//! (so that drift on a shared machine hits them alike) and the median round is reported.
//!
//! Run: `cargo bench --bench hit_overhead`.

#[path = "support/keys.rs"]
mod keys;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

const KEYS: u64 = 1_000;
const ROUNDS: usize = 21;
const PASSES: usize = 200;

#[memo_runtime::cached(ttl = 300)]
fn memo_sync(x: u64) -> u64 {
    x + 1
}

#[memo_runtime::cached(ttl = 300)]
async fn memo_async(x: u64) -> u64 {
    x + 1
}

/// The engine alone: the index memo keeps entries in, with a fresh-until time per entry checked
/// against a coarse clock (one relaxed load, like memo's).
struct Bare {
    map: scc::HashIndex<u64, (u64, u64), foldhash::fast::RandomState>,
    clock: AtomicU64,
}

impl Bare {
    fn new() -> Self {
        let bare =
            Self { map: scc::HashIndex::with_hasher(foldhash::fast::RandomState::default()), clock: AtomicU64::new(1) };
        for k in 0..KEYS {
            let _ = bare.map.insert_sync(k, (k + 1, u64::MAX));
        }
        bare
    }

    #[inline(never)]
    fn get(&self, key: u64) -> Option<u64> {
        let now = self.clock.load(Ordering::Relaxed);
        self.map.peek_with(&key, |_, (value, fresh_until)| (*fresh_until > now).then_some(*value)).flatten()
    }

    #[inline(never)]
    async fn get_async(&self, key: u64) -> Option<u64> {
        self.get(key)
    }
}

fn main() {
    let keys = keys::shuffled(KEYS);
    let bare = Bare::new();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    for &k in &keys {
        memo_sync(k);
        rt.block_on(memo_async(k));
    }
    let calls = (keys.len() * PASSES) as f64;
    let time = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        f();
        start.elapsed().as_nanos() as f64 / calls
    };
    let mut results: [Vec<f64>; 4] = Default::default();
    for _ in 0..ROUNDS {
        results[0].push(time(&mut || {
            for _ in 0..PASSES {
                for &k in &keys {
                    black_box(memo_sync(black_box(k)));
                }
            }
        }));
        results[1].push(time(&mut || {
            for _ in 0..PASSES {
                for &k in &keys {
                    black_box(bare.get(black_box(k)));
                }
            }
        }));
        results[2].push(time(&mut || {
            rt.block_on(async {
                for _ in 0..PASSES {
                    for &k in &keys {
                        black_box(memo_async(black_box(k)).await);
                    }
                }
            })
        }));
        results[3].push(time(&mut || {
            rt.block_on(async {
                for _ in 0..PASSES {
                    for &k in &keys {
                        black_box(bare.get_async(black_box(k)).await);
                    }
                }
            })
        }));
    }
    let [memo_sync, bare_sync, memo_async, bare_async] = results.map(keys::median);
    println!("hit, 1,000 warm u64 keys in a shuffled order, median of {ROUNDS} rounds (ns per call):");
    println!("| path | memo `#[cached(ttl = 300)]` | bare `scc::HashIndex` + coarse clock | memo / bare |");
    println!("|---|---|---|---|");
    println!("| sync | {memo_sync:.1} | {bare_sync:.1} | {:.2} |", memo_sync / bare_sync);
    println!("| async | {memo_async:.1} | {bare_async:.1} | {:.2} |", memo_async / bare_async);
}
