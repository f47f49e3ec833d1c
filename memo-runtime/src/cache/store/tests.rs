use std::sync::Arc;

use crate::Cache;

/// Drives epoch-based reclamation (each guard that ends may advance the epoch and run what
/// was deferred). Returns once `done` holds, or false after a bounded number of guards.
fn reclaim_until(done: impl Fn() -> bool) -> bool {
    for _ in 0..1_000_000 {
        if done() {
            return true;
        }
        scc::Guard::new().accelerate();
    }
    done()
}

#[test]
fn a_removed_value_is_dropped_once_no_reader_can_see_it() {
    let cache: Cache<u32, Arc<Vec<u8>>> = Cache::builder().capacity(4).build();
    let value = Arc::new(vec![1; 16]);
    cache.insert(1, Arc::clone(&value));
    cache.insert(2, Arc::clone(&value));
    assert_eq!(Arc::strong_count(&value), 3);
    cache.invalidate(&1);
    cache.insert(2, Arc::new(vec![2; 16]));
    assert!(reclaim_until(|| Arc::strong_count(&value) == 1), "both copies dropped");
    // Evicted values go the same way, a batch at a time.
    for k in 10..110 {
        cache.insert(k, Arc::clone(&value));
    }
    for k in 200..300 {
        cache.insert(k, Arc::new(Vec::new()));
    }
    assert!(reclaim_until(|| Arc::strong_count(&value) == 1), "every evicted copy dropped");
    cache.insert(1, Arc::clone(&value));
    drop(cache);
    assert!(reclaim_until(|| Arc::strong_count(&value) == 1), "dropping the cache drops what it held");
}

#[test]
fn readers_see_whole_values_while_the_writer_replaces_evicts_and_removes() {
    const KEYS: u32 = 64;
    const WRITES: u32 = 200_000;
    let cache: Arc<Cache<u32, Arc<Vec<u8>>>> = Arc::new(Cache::builder().capacity(32).build());
    let writing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (cache, writing) = (Arc::clone(&cache), Arc::clone(&writing));
            std::thread::spawn(move || {
                let mut seen = 0_u64;
                while writing.load(std::sync::atomic::Ordering::Relaxed) {
                    for k in 0..KEYS {
                        if let Some(v) = cache.get(&k) {
                            assert!(v.len() == 64 && v.iter().all(|&b| b == k as u8), "key {k}: a torn value");
                            seen += 1;
                        }
                    }
                }
                seen
            })
        })
        .collect();
    for i in 0..WRITES {
        let k = i.wrapping_mul(2_654_435_761) % KEYS;
        match i % 10 {
            0 => {
                cache.invalidate(&k);
            }
            9 if i % 1_000 == 999 => cache.invalidate_all(),
            _ => cache.insert(k, Arc::new(vec![k as u8; 64])),
        }
    }
    writing.store(false, std::sync::atomic::Ordering::Relaxed);
    let seen: u64 = readers.into_iter().map(|r| r.join().expect("no reader panicked")).sum();
    assert!(seen > 0, "the readers found values");
    assert!(cache.stats().entries <= 32);
}

#[test]
fn under_a_byte_bound_new_keys_are_evicted_before_keys_hit_again() {
    // Room for 100 pages of 1,000 bytes; the bound in entries (10,000) is far away.
    let cache: Cache<u32, Vec<u8>> =
        Cache::builder().max_bytes(100_000).build().with_weigher(|_, page: &Vec<u8>| page.len());
    for k in 0..100 {
        cache.insert(k, vec![0; 1_000]);
    }
    // Keys 0..10 are read again, then a scan of one-time keys passes through.
    for k in 0..10 {
        assert!(cache.get(&k).is_some());
    }
    for k in 1_000..1_300 {
        cache.insert(k, vec![0; 1_000]);
    }
    let kept = (0..10).filter(|k| cache.get(k).is_some()).count();
    assert_eq!(kept, 10, "the keys read again outlive the scan");
    assert!(cache.stats().entries <= 100);
}

/// A key whose hash is the same for every value: a legal `Hash` (equal keys hash alike) that
/// makes every pair of keys collide in the index.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OneHash(u32);

impl std::hash::Hash for OneHash {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}

#[test]
fn keys_with_one_hash_never_answer_for_each_other() {
    let cache: Cache<OneHash, u32> = Cache::builder().build();
    cache.insert(OneHash(1), 10);
    assert_eq!(cache.get(&OneHash(1)), Some(10));
    assert_eq!(cache.get(&OneHash(2)), None, "another key with the same hash misses");
    cache.insert(OneHash(2), 20);
    assert_eq!(cache.get(&OneHash(2)), Some(20));
    assert_eq!(cache.get(&OneHash(1)), None, "the key it displaced misses, and is not answered with 20");
    assert!(!cache.invalidate(&OneHash(1)), "invalidating the displaced key removes nothing");
    assert_eq!(cache.get(&OneHash(2)), Some(20));
    assert_eq!(cache.get_or_load(OneHash(1), crate::Load::value(|| 11)), 11);
    assert_eq!(cache.get(&OneHash(1)), Some(11));
    let stats = cache.stats();
    assert_eq!((stats.entries, stats.evictions.size), (1, 2), "one place, two displacements");
}
