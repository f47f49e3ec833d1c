//! Tags: what tags add to a hit, and what `invalidate_tag` costs beside a large cache. Hits are
//! warm calls over 1,000 keys in a fixed shuffled order, the contenders in turns over rounds;
//! every figure is a median of rounds.
//!
//! Run: `cargo bench -p memo-benches --bench tags` (prints the table; `-- --readme` writes it into the README).

#[path = "support/keys.rs"]
mod keys;
#[path = "support/readme.rs"]
mod readme;

use std::hint::black_box;
use std::time::{Duration, Instant};

use memo_runtime::Cache;

const KEYS: u64 = 1_000;
const ROUNDS: usize = 11;
const PASSES: usize = 200;
const INVALIDATIONS: u32 = 10_000;

/// A cached `fn(u64) -> u64`.
type Call = fn(u64) -> u64;

#[memo_runtime::cached(ttl = 300)]
fn no_tags(x: u64) -> u64 {
    x + 1
}

#[memo_runtime::cached(ttl = 300, tags = [format!("bench:one:{x}")])]
fn one_tag(x: u64) -> u64 {
    x + 1
}

#[memo_runtime::cached(ttl = 300, tags = [format!("bench:a:{x}"), format!("bench:b:{x}"), format!("bench:c:{x}"), "bench:d", "bench:e"])]
fn five_tags(x: u64) -> u64 {
    x + 1
}

/// A cache of `entries` entries, the `tagged` first of which carry the tag `bench:hot`.
fn filled(entries: u64, tagged: u64) -> Cache<u64, u64> {
    let cache = Cache::builder().capacity(entries as usize + 1).ttl(Duration::from_secs(3_600)).build();
    for k in 0..entries {
        if k < tagged {
            cache.insert_with_tags(k, k, ["bench:hot"]);
        } else {
            cache.insert(k, k);
        }
    }
    cache
}

/// `invalidate_tag` beside a cache of `entries`: (time per call, time to read the `tagged`
/// entries once after an invalidation), in nanoseconds, medians of rounds.
fn invalidation(entries: u64, tagged: u64) -> (f64, f64) {
    let cache = filled(entries, tagged);
    let tagged_keys: Vec<u64> = keys::shuffled(tagged);
    let (mut calls, mut reads) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for _ in 0..INVALIDATIONS {
            memo_runtime::invalidate_tag(black_box("bench:hot"));
        }
        calls.push(start.elapsed().as_nanos() as f64 / f64::from(INVALIDATIONS));
        // The lazy part: every tagged entry found invalid on its next read (and refilled, so
        // that the next round finds them again).
        let start = Instant::now();
        for &k in &tagged_keys {
            black_box(cache.get(&k));
        }
        reads.push(start.elapsed().as_nanos() as f64);
        for &k in &tagged_keys {
            cache.insert_with_tags(k, k, ["bench:hot"]);
        }
    }
    (keys::median(calls), keys::median(reads))
}

/// `ns` nanoseconds, in the unit that suits it.
fn shown(ns: f64) -> String {
    match ns {
        ns if ns < 1e3 => format!("{ns:.1} ns"),
        ns if ns < 1e6 => format!("{:.1} µs", ns / 1e3),
        ns => format!("{:.1} ms", ns / 1e6),
    }
}

fn main() {
    let keys = keys::shuffled(KEYS);
    let hits: [(&str, Call); 3] = [
        ("hit, entry with 0 tags", no_tags),
        ("hit, entry with 1 tag", one_tag),
        ("hit, entry with 5 tags", five_tags),
    ];
    for (_, f) in hits {
        keys.iter().for_each(|&k| {
            f(k);
        });
    }
    let mut runs: [Vec<f64>; 3] = Default::default();
    for _ in 0..ROUNDS {
        for (run, (_, f)) in runs.iter_mut().zip(hits) {
            run.push(keys::ns_per_call(&keys, PASSES, |k| {
                black_box(f(k));
            }));
        }
    }
    let mut table = format!(
        "Tags, one thread (`cargo bench -p memo-benches --bench tags`): hits are warm calls over 1,000 keys in a fixed \
         shuffled order, contenders in turns over {ROUNDS} rounds of {PASSES} passes; \
         `invalidate_tag` is timed over 10,000 calls a round; medians of rounds.\n\n\
         | operation | time |\n|---|---|\n"
    );
    for ((name, _), run) in hits.iter().zip(runs) {
        table += &format!("| {name} | {} |\n", shown(keys::median(run)));
    }
    for (name, tagged_name, entries, tagged) in [
        ("cache of 1k entries (10 tagged)", "10", 1_000, 10),
        ("cache of 1M entries (10k tagged)", "10,000", 1_000_000, 10_000),
    ] {
        let (call, read) = invalidation(entries, tagged);
        table += &format!("| `invalidate_tag`, {name} | {} |\n", shown(call));
        table += &format!("| reading the {tagged_name} tagged entries once after it | {} |\n", shown(read));
    }
    println!("{table}");
    readme::write_if_asked("tags", &table);
}
