//! Bounded size: a cache never holds more than its capacity, and eviction keeps the keys that
//! are hit while a stream of one-off keys passes through, and most of a loop a little larger
//! than the cache (where LRU and CLOCK keep nothing).

use std::sync::atomic::{AtomicU32, Ordering};

use memo_runtime::cached;

#[cached(capacity = 100)]
fn bounded(id: u32) -> u32 {
    id
}

#[test]
fn the_cache_never_holds_more_than_its_capacity() {
    for id in 0..1_000 {
        bounded(id);
        assert!(bounded::stats().entries <= 100);
    }
    let stats = bounded::stats();
    assert_eq!(stats.entries, 100);
    assert_eq!(stats.evictions.size, 900);
}

#[cached]
fn default_bound(id: u32) -> u32 {
    id
}

#[test]
fn caches_are_bounded_by_default() {
    for id in 0..20_000 {
        default_bound(id);
    }
    assert_eq!(default_bound::stats().entries, memo_runtime::cache::DEFAULT_CAPACITY as u64);
}

static HOT_LOADS: AtomicU32 = AtomicU32::new(0);

#[cached(capacity = 100)]
fn scanned(id: u32) -> u32 {
    if id < 10 {
        HOT_LOADS.fetch_add(1, Ordering::SeqCst);
    }
    id
}

#[test]
fn hot_keys_survive_a_scan_of_cold_keys() {
    for round in 0..200 {
        for hot in 0..10 {
            scanned(hot);
        }
        for cold in 0..20 {
            scanned(1_000 + round * 20 + cold);
        }
    }
    assert_eq!(HOT_LOADS.load(Ordering::SeqCst), 10, "each hot key loaded once, never evicted");
    let stats = scanned::stats();
    assert_eq!(stats.entries, 100);
    assert_eq!(stats.evictions.size, 200 * 20 + 10 - 100);
}

static LOOP_LOADS: AtomicU32 = AtomicU32::new(0);

#[cached(capacity = 100)]
fn looped(id: u32) -> u32 {
    LOOP_LOADS.fetch_add(1, Ordering::SeqCst);
    id
}

#[test]
fn a_loop_a_little_larger_than_the_cache_is_mostly_hits() {
    const ROUNDS: u32 = 50;
    for _ in 0..ROUNDS {
        for id in 0..120 {
            looped(id);
        }
    }
    let calls = ROUNDS * 120;
    let loads = LOOP_LOADS.load(Ordering::SeqCst);
    // Keeping any fixed 100 of the 120 keys answers 100 of every 120 calls; LRU and CLOCK
    // evict each key just before it comes back and answer none.
    assert!(loads * 2 < calls, "{loads} loads for {calls} calls: fewer than half should load");
    assert!(looped::stats().entries <= 100);
}

#[cached(max_bytes = 1_000, weigher = |page: &String| page.len())]
fn page(id: u32) -> String {
    format!("{id:0>100}")
}

#[test]
fn a_byte_bound_keeps_what_fits_as_the_weigher_counts() {
    for id in 0..100 {
        page(id);
        assert!(page::stats().entries <= 10, "ten pages of 100 bytes fit in 1,000");
    }
    let stats = page::stats();
    assert_eq!(stats.entries, 10);
    assert_eq!(stats.evictions.size, 90);
}

#[cached(max_bytes = "1KiB")]
fn inline_weight(id: u64) -> u64 {
    id
}

#[test]
fn without_a_weigher_an_entry_weighs_its_key_and_value_inline() {
    for id in 0..1_000 {
        inline_weight(id);
    }
    // A u64 key and a u64 value: 16 bytes an entry, 64 in 1 KiB.
    assert_eq!(inline_weight::stats().entries, 64);
}

#[test]
fn a_cache_weighs_with_its_weigher_and_forgets_what_it_removes() {
    use memo_runtime::Cache;

    let cache: Cache<u32, Vec<u8>> = Cache::builder().max_bytes(1_000).build().with_weigher(|_, bytes| bytes.len());
    cache.insert(1, vec![0; 600]);
    cache.insert(2, vec![0; 300]);
    assert_eq!(cache.stats().entries, 2);
    cache.insert(3, vec![0; 300]);
    assert_eq!(cache.stats().entries, 2, "1,200 bytes do not fit in 1,000: one went");
    assert!(cache.invalidate(&3));
    cache.insert(4, vec![0; 400]);
    let held = [1, 2, 4].iter().filter(|k| cache.get(k).is_some()).count();
    assert_eq!(cache.stats().entries as usize, held);
    assert!(cache.get(&4).is_some(), "after the invalidation the newest entry fits");
    cache.insert(5, vec![0; 2_000]);
    assert!(cache.get(&5).is_none(), "an entry heavier than the bound is not kept");
}
