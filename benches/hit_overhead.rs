//! What memo's wrapper costs on a hit: a warm `#[cached]` call beside the bare engine it wraps,
//! an `scc::HashIndex` lookup with a coarse-clock freshness check and a clone of the value, in
//! the same run, both as memo keeps entries (the index names a slot) and with entries in the
//! index itself. 1,000 warm keys asked in a shuffled order; the contenders take turns in rounds
//! (so that drift on a shared machine hits them alike) and the median round is reported.
//!
//! Run: `cargo bench -p memo-benches --bench hit_overhead`.

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

/// The engine alone, two ways, each with a fresh-until time per entry checked against a coarse
/// clock (one relaxed load, like memo's): `inline` keeps entries in the index itself; `slotted`
/// keeps them as memo does, the index naming a slot that holds the key and the entry (one more
/// dependent read and a key comparison, for a third less memory per entry).
struct Bare {
    inline: scc::HashIndex<u64, (u64, u64), foldhash::fast::RandomState>,
    index: scc::HashIndex<u64, u32, foldhash::fast::RandomState>,
    slots: Vec<(u64, u64, u64)>,
    clock: AtomicU64,
}

impl Bare {
    fn new() -> Self {
        let hasher = foldhash::fast::RandomState::default;
        let mut bare = Self {
            inline: scc::HashIndex::with_hasher(hasher()),
            index: scc::HashIndex::with_hasher(hasher()),
            slots: Vec::new(),
            clock: AtomicU64::new(1),
        };
        for k in 0..KEYS {
            let _ = bare.inline.insert_sync(k, (k + 1, u64::MAX));
            let _ = bare.index.insert_sync(k, bare.slots.len() as u32);
            bare.slots.push((k, k + 1, u64::MAX));
        }
        bare
    }

    #[inline(never)]
    fn get(&self, key: u64) -> Option<u64> {
        let now = self.clock.load(Ordering::Relaxed);
        self.inline.peek_with(&key, |_, (value, fresh_until)| (*fresh_until > now).then_some(*value)).flatten()
    }

    #[inline(never)]
    fn get_slotted(&self, key: u64) -> Option<u64> {
        let now = self.clock.load(Ordering::Relaxed);
        let guard = scc::Guard::new();
        let &id = self.index.peek(&key, &guard)?;
        let (k, value, fresh_until) = self.slots.get(id as usize)?;
        (*k == key && *fresh_until > now).then_some(*value)
    }

    #[inline(never)]
    async fn get_async(&self, key: u64) -> Option<u64> {
        self.get(key)
    }

    #[inline(never)]
    async fn get_slotted_async(&self, key: u64) -> Option<u64> {
        self.get_slotted(key)
    }
}

/// `PASSES` sync calls over `keys`, compiled for each contender (no indirect call).
fn passes(keys: &[u64], get: impl Fn(u64) -> Option<u64>) {
    for _ in 0..PASSES {
        for &k in keys {
            black_box(get(black_box(k)));
        }
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
    let mut results: [Vec<f64>; 6] = Default::default();
    for _ in 0..ROUNDS {
        results[0].push(time(&mut || passes(&keys, |k| Some(memo_sync(k)))));
        results[1].push(time(&mut || passes(&keys, |k| bare.get(k))));
        results[2].push(time(&mut || passes(&keys, |k| bare.get_slotted(k))));
        results[3].push(time(&mut || {
            rt.block_on(async {
                for _ in 0..PASSES {
                    for &k in &keys {
                        black_box(memo_async(black_box(k)).await);
                    }
                }
            })
        }));
        results[4].push(time(&mut || {
            rt.block_on(async {
                for _ in 0..PASSES {
                    for &k in &keys {
                        black_box(bare.get_async(black_box(k)).await);
                    }
                }
            })
        }));
        results[5].push(time(&mut || {
            rt.block_on(async {
                for _ in 0..PASSES {
                    for &k in &keys {
                        black_box(bare.get_slotted_async(black_box(k)).await);
                    }
                }
            })
        }));
    }
    let [memo_sync, inline_sync, slotted_sync, memo_async, inline_async, slotted_async] = results.map(keys::median);
    println!("hit, 1,000 warm u64 keys in a shuffled order, median of {ROUNDS} rounds (ns per call):");
    println!(
        "| path | memo `#[cached(ttl = 300)]` | bare index + slot (memo's engine) | memo / that | bare `scc::HashIndex`, entries inline | memo / that |"
    );
    println!("|---|---|---|---|---|---|");
    let row = |path: &str, memo: f64, slotted: f64, inline: f64| {
        println!("| {path} | {memo:.1} | {slotted:.1} | {:.2} | {inline:.1} | {:.2} |", memo / slotted, memo / inline);
    };
    row("sync", memo_sync, slotted_sync, inline_sync);
    row("async", memo_async, slotted_async, inline_async);
}
