//! A request-memo hit beside an uncontended `Mutex<HashMap>` hit and a `#[cached]` L1 hit: a
//! warm call of `fn(u64) -> u64` over 1,000 keys in a fixed shuffled order, inside one request
//! scope, the contenders in turns over rounds, medians reported.
//!
//! Run: `cargo bench -p memo-benches --bench request_memo` (prints the table; `-- --readme` writes it into the
//! README).

#[path = "support/keys.rs"]
mod keys;
#[path = "support/readme.rs"]
mod readme;

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Mutex;

use memo_runtime::Scope;

const KEYS: u64 = 1_000;
const ROUNDS: usize = 11;
const PASSES: usize = 200;

#[memo_runtime::request_memo]
fn request_memoized(x: u64) -> u64 {
    x + 1
}

#[memo_runtime::cached(ttl = 300)]
fn cached_l1(x: u64) -> u64 {
    x + 1
}

fn main() {
    let keys = keys::shuffled(KEYS);
    let map: Mutex<HashMap<u64, u64, foldhash::fast::RandomState>> =
        Mutex::new(keys.iter().map(|&k| (k, k + 1)).collect());
    let names = [
        "`Mutex<HashMap>` hit, uncontended (the yardstick)",
        "**memo** `#[request_memo]` hit inside a scope",
        "**memo** `#[cached(ttl = 300)]` L1 hit",
    ];
    let mut runs: [Vec<f64>; 3] = Default::default();
    Scope::new().run_sync(|| {
        for &k in &keys {
            request_memoized(k);
            cached_l1(k);
        }
        for _ in 0..ROUNDS {
            runs[0].push(keys::ns_per_call(&keys, PASSES, |k| {
                black_box(map.lock().expect("not poisoned").get(&k).copied());
            }));
            runs[1].push(keys::ns_per_call(&keys, PASSES, |k| {
                black_box(request_memoized(k));
            }));
            runs[2].push(keys::ns_per_call(&keys, PASSES, |k| {
                black_box(cached_l1(k));
            }));
        }
    });
    let mut table = format!(
        "Request memo, one thread: `fn(u64) -> u64`, 1,000 warm keys in a fixed shuffled order, \
         contenders in turns over {ROUNDS} rounds of {PASSES} passes, medians: \
         `cargo bench -p memo-benches --bench request_memo`.\n\n| contender | time per call | calls/s |\n|---|---|---|\n"
    );
    for (name, run) in names.iter().zip(runs) {
        let ns = keys::median(run);
        table += &format!("| {name} | {ns:.1} ns | {:.0} M/s |\n", 1e3 / ns);
    }
    println!("{table}");
    readme::write_if_asked("request-memo", &table);
}
