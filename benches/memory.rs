//! Bytes per entry: each cache filled in a child process of its own, its resident set's growth
//! compared with a std `HashMap` holding the same entries. A cache of capacity 1,000,000 gets
//! 1,100,000 `u64 -> u64` entries, so it is full and has evicted (what eviction keeps about
//! keys it dropped counts too); the map gets the 1,000,000 it would hold.
//!
//! Run: `cargo bench -p memo-benches --bench memory` (prints the table; `-- --readme` writes it into the README).

#[path = "support/readme.rs"]
mod readme;

use std::process::Command;

use memo_runtime::Cache;

const CAPACITY: usize = 1_000_000;
const INSERTS: u64 = 1_100_000;
const RUNS: usize = 3;

/// The process's resident set, in bytes.
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status is readable");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS is reported");
    let kib: usize = line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("VmRSS is a number");
    kib * 1024
}

/// Fills one contender and prints its growth in bytes and the entries it holds (while it still
/// holds them).
fn child(name: &str) {
    let before = rss();
    let report = |held: usize| println!("{} {held}", rss().saturating_sub(before));
    match name {
        "HashMap" => {
            let map: std::collections::HashMap<u64, u64> =
                (INSERTS - CAPACITY as u64..INSERTS).map(|k| (k, k)).collect();
            report(map.len());
            std::hint::black_box(&map);
        }
        "memo" => {
            let cache: Cache<u64, u64> = Cache::builder().capacity(CAPACITY).build();
            (0..INSERTS).for_each(|k| cache.insert(k, k));
            report(cache.stats().entries as usize);
            std::hint::black_box(&cache);
        }
        "moka" => {
            let cache: moka::sync::Cache<u64, u64> = moka::sync::Cache::new(CAPACITY as u64);
            (0..INSERTS).for_each(|k| cache.insert(k, k));
            cache.run_pending_tasks();
            report(cache.entry_count() as usize);
            std::hint::black_box(&cache);
        }
        "quick_cache" => {
            let cache: quick_cache::sync::Cache<u64, u64> = quick_cache::sync::Cache::new(CAPACITY);
            (0..INSERTS).for_each(|k| cache.insert(k, k));
            report(cache.len());
            std::hint::black_box(&cache);
        }
        other => panic!("unknown contender {other}"),
    }
}

/// `1234567` as `1,234,567`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Runs a contender in a child process: (bytes grown, entries held).
fn measure(name: &str) -> (usize, usize) {
    let exe = std::env::current_exe().expect("the bench knows its own path");
    let out = Command::new(exe).args(["--child", name]).output().expect("the child runs");
    assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("the child prints text");
    let mut parts = text.split_whitespace().map(|n| n.parse::<usize>().expect("the child prints numbers"));
    (parts.next().expect("bytes"), parts.next().expect("entries"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(&args[i + 1]);
        return;
    }
    let names = ["HashMap", "memo", "moka", "quick_cache"];
    // Rounds interleave the contenders; each figure is the median of its runs.
    let mut runs: Vec<Vec<(usize, usize)>> = vec![Vec::new(); names.len()];
    for _ in 0..RUNS {
        for (i, name) in names.iter().enumerate() {
            runs[i].push(measure(name));
        }
    }
    let median = |r: &mut Vec<(usize, usize)>| {
        r.sort_unstable();
        r[r.len() / 2]
    };
    let (map_bytes, map_held) = median(&mut runs[0]);
    let map_per_entry = map_bytes as f64 / map_held as f64;
    let mut table = format!(
        "Bytes per entry, `u64 -> u64`, capacity 1,000,000 filled with 1,100,000 entries, each cache in \
         a child process of its own (`cargo bench -p memo-benches --bench memory`): resident-set growth per entry \
         held, minus a std `HashMap`'s ({map_per_entry:.0} bytes per entry for the same entries). \
         Median of {RUNS} runs.\n\n| cache | entries held | bytes per entry over a `HashMap` |\n|---|---|---|\n"
    );
    for (i, name) in names.iter().enumerate().skip(1) {
        let (bytes, held) = median(&mut runs[i]);
        let over = bytes as f64 / held as f64 - map_per_entry;
        eprintln!("{name}: {bytes} bytes for {held} entries");
        table += &format!("| {name} | {} | {over:+.0} |\n", thousands(held));
    }
    println!("{table}");
    readme::write_if_asked("memory", &table);
}
