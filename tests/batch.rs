//! Batch loads (`Cache::get_many_or_load` and its async form): hits come from the cache, the
//! body runs once with the keys that miss, overlapping batches load each key once, a failed
//! body fails its own keys only, and an invalidation during a load keeps its value out.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use memo_runtime::Cache;

/// How long a test waits for a condition before it fails.
const PATIENCE: Duration = Duration::from_secs(10);

/// Loads per key, over every body run.
#[derive(Default, Clone)]
struct Loads(Arc<Mutex<HashMap<u64, u32>>>);

impl Loads {
    /// Counts the keys of one body run and answers each with ten times itself.
    fn load(&self, keys: &[u64]) -> HashMap<u64, u64> {
        let mut loads = self.0.lock().unwrap();
        for &key in keys {
            *loads.entry(key).or_insert(0) += 1;
        }
        keys.iter().map(|&key| (key, key * 10)).collect()
    }

    fn of(&self, key: u64) -> u32 {
        self.0.lock().unwrap().get(&key).copied().unwrap_or(0)
    }
}

/// Holds loads back until the test opens it.
#[derive(Clone)]
struct Gate(Arc<tokio::sync::Semaphore>);

impl Gate {
    fn new() -> Self {
        Self(Arc::new(tokio::sync::Semaphore::new(0)))
    }

    async fn pass(&self) {
        drop(self.0.acquire().await.expect("the gate is never closed"));
    }

    fn open(&self) {
        self.0.add_permits(tokio::sync::Semaphore::MAX_PERMITS / 2);
    }
}

type Answer = Result<HashMap<u64, u64>, String>;

/// Starts a batch of `keys` on `cache` whose body waits at `gate`, then answers with
/// `answer`; returns once the body runs.
async fn gated_batch(
    cache: &'static Cache<u64, Option<u64>>,
    keys: impl IntoIterator<Item = u64> + Send + 'static,
    gate: &Gate,
    answer: impl Fn(&[u64]) -> Answer + Clone + Send + Sync + 'static,
) -> tokio::task::JoinHandle<Answer> {
    let started = Arc::new(AtomicBool::new(false));
    let batch = tokio::spawn({
        let (started, gate) = (Arc::clone(&started), gate.clone());
        cache.get_many_or_load_async(keys, move |keys| {
            started.store(true, Ordering::SeqCst);
            let (gate, answer) = (gate.clone(), answer.clone());
            async move {
                gate.pass().await;
                answer(&keys)
            }
        })
    });
    until("the gated batch's body runs", || started.load(Ordering::SeqCst)).await;
    batch
}

fn cache() -> Cache<u64, Option<u64>> {
    Cache::builder().ttl(Duration::from_secs(60)).build()
}

/// Polls `done` until it holds, failing after [`PATIENCE`].
async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[test]
fn hits_come_from_the_cache_and_the_body_gets_only_the_missing_keys() {
    let cache = cache();
    let loads = Loads::default();
    let asked = Mutex::new(Vec::new());
    let mut load = |keys: Vec<u64>| -> Result<_, String> {
        asked.lock().unwrap().push(keys.clone());
        Ok(loads.load(&keys))
    };
    let first = cache.get_many_or_load([1, 2], &mut load).unwrap();
    assert_eq!(first, HashMap::from([(1, 10), (2, 20)]));
    let second = cache.get_many_or_load([2, 3, 1, 3], &mut load).unwrap();
    assert_eq!(second, HashMap::from([(1, 10), (2, 20), (3, 30)]));
    assert_eq!(*asked.lock().unwrap(), [vec![1, 2], vec![3]], "one run per call, the missing keys once each");
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses, stats.loads), (2, 3, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_batches_load_each_key_once() {
    let cache: &'static Cache<u64, Option<u64>> = Box::leak(Box::new(cache()));
    let loads = Loads::default();
    let gate = Gate::new();
    let first = gated_batch(cache, 1..=10, &gate, {
        let loads = loads.clone();
        move |keys| Ok(loads.load(keys))
    })
    .await;
    let later = [(5..=15).collect::<Vec<u64>>(), (8..=12).collect()].map(|keys| {
        let loads = loads.clone();
        tokio::spawn(async move {
            cache
                .get_many_or_load_async(keys, |keys| {
                    let loads = loads.clone();
                    async move { Ok::<_, String>(loads.load(&keys)) }
                })
                .await
        })
    });
    until("both later batches wait for the first one's keys", || cache.stats().coalesced == 2).await;
    gate.open();
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.len(), 10);
    for (batch, keys) in later.into_iter().zip([5..=15, 8..=12]) {
        let found = batch.await.unwrap().unwrap();
        assert_eq!(found, keys.map(|key| (key, key * 10)).collect::<HashMap<_, _>>());
    }
    for key in 1..=15 {
        assert_eq!(loads.of(key), 1, "key {key} was loaded once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_body_fails_its_own_keys_and_the_waiting_batch_loads_them() {
    let cache: &'static Cache<u64, Option<u64>> = Box::leak(Box::new(cache()));
    let gate = Gate::new();
    let failing = gated_batch(cache, [1, 2], &gate, |_| Err("database down".to_owned())).await;
    let asked = Arc::new(Mutex::new(Vec::new()));
    let waiting = tokio::spawn({
        let asked = Arc::clone(&asked);
        cache.get_many_or_load_async([2, 3], move |keys| {
            asked.lock().unwrap().push(keys.clone());
            async move { Ok::<_, String>(keys.iter().map(|&key| (key, key * 10)).collect()) }
        })
    });
    until("the second batch waits for key 2", || cache.stats().coalesced == 1).await;
    gate.open();
    assert_eq!(failing.await.unwrap(), Err("database down".to_owned()));
    assert_eq!(waiting.await.unwrap().unwrap(), HashMap::from([(2, 20), (3, 30)]));
    assert_eq!(*asked.lock().unwrap(), [vec![3], vec![2]], "its own key first, then the failed one");
    assert_eq!(cache.get(&1), None, "the failed key is not stored");
    assert_eq!(cache.stats().load_errors, 1);
}

#[test]
fn keys_the_body_leaves_out_are_absent_and_kept_only_with_a_negative_ttl() {
    for negative_ttl in [None, Some(Duration::from_secs(60))] {
        let mut builder = Cache::builder().ttl(Duration::from_secs(60));
        if let Some(ttl) = negative_ttl {
            builder = builder.negative_ttl(ttl);
        }
        let cache: Cache<u64, Option<u64>> = builder.build();
        let runs = Mutex::new(Vec::new());
        let mut load = |keys: Vec<u64>| -> Result<_, String> {
            runs.lock().unwrap().push(keys.clone());
            Ok(keys.into_iter().filter(|key| *key != 9).map(|key| (key, key)).collect())
        };
        assert_eq!(cache.get_many_or_load([1, 9], &mut load).unwrap(), HashMap::from([(1, 1)]));
        assert_eq!(cache.get_many_or_load([1, 9], &mut load).unwrap(), HashMap::from([(1, 1)]));
        let runs = runs.into_inner().unwrap();
        match negative_ttl {
            None => {
                assert_eq!(runs, [vec![1, 9], vec![9]], "absent, not kept: loaded again");
                assert_eq!(cache.get(&9), None);
            }
            Some(_) => {
                assert_eq!(runs, [vec![1, 9]], "kept as absent");
                assert_eq!(cache.get(&9), Some(None));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidation_during_a_batch_load_keeps_its_value_out_of_the_cache() {
    let cache: &'static Cache<u64, Option<u64>> = Box::leak(Box::new(cache()));
    let gate = Gate::new();
    let batch = gated_batch(cache, [1, 2], &gate, |keys| Ok(keys.iter().map(|&key| (key, key * 10)).collect())).await;
    cache.invalidate(&1);
    gate.open();
    assert_eq!(batch.await.unwrap().unwrap(), HashMap::from([(1, 10), (2, 20)]), "the caller gets what it loaded");
    assert_eq!(cache.get(&1), None, "loaded before the invalidation: not stored");
    assert_eq!(cache.get(&2), Some(Some(20)));
}

#[test]
fn a_body_that_asks_for_its_own_keys_loads_them_instead_of_waiting_for_itself() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let cache = cache();
        let found = cache.get_many_or_load([1, 2], |keys| {
            // The same keys again, from inside the load: found in flight, and this load's own.
            let inner = cache.get_many_or_load(keys.clone(), |keys| -> Result<_, String> {
                Ok(keys.iter().map(|&key| (key, key + 100)).collect())
            })?;
            Ok::<_, String>(keys.iter().map(|key| (*key, inner[key] + 1)).collect())
        });
        done.send(found).unwrap();
    });
    let found = finished.recv_timeout(PATIENCE).expect("the load does not wait for itself");
    assert_eq!(found.unwrap(), HashMap::from([(1, 102), (2, 103)]));
}

/// The ids each run of `products` was asked for.
static PRODUCT_QUERIES: Mutex<Vec<Vec<u64>>> = Mutex::new(Vec::new());

#[derive(Clone)]
struct Db {
    prefix: String,
}

/// `SELECT .. WHERE id = ANY($1)`: ids from 100 up do not exist, and 666 fails the query.
#[memo_runtime::cached(batch, ttl = 60, negative_ttl = 60)]
async fn products(ids: &[u64], db: &Db) -> Result<HashMap<u64, String>, String> {
    PRODUCT_QUERIES.lock().unwrap().push(ids.to_vec());
    if ids.contains(&666) {
        return Err("the query failed".to_owned());
    }
    Ok(ids.iter().filter(|id| **id < 100).map(|&id| (id, format!("{}{id}", db.prefix))).collect())
}

#[tokio::test]
async fn the_attribute_caches_a_batch_function_key_by_key() {
    let db = Db { prefix: "p".to_owned() };
    let queries = || std::mem::take(&mut *PRODUCT_QUERIES.lock().unwrap());
    let first = products(&[1, 2, 100], &db).await.unwrap();
    assert_eq!(first, HashMap::from([(1, "p1".to_owned()), (2, "p2".to_owned())]));
    let second = products(&[2, 3, 100], &db).await.unwrap();
    assert_eq!(second, HashMap::from([(2, "p2".to_owned()), (3, "p3".to_owned())]));
    assert_eq!(queries(), [vec![1, 2, 100], vec![3]], "2 a hit, 100 kept as absent");

    assert!(products::invalidate(&2));
    products::put(&4, "written".to_owned());
    let third = products(&[2, 4], &db).await.unwrap();
    assert_eq!(third[&4], "written");
    assert_eq!(queries(), [vec![2]]);

    assert_eq!(products(&[5, 666], &db).await, Err("the query failed".to_owned()));
    assert_eq!(products(&[5], &db).await.unwrap()[&5], "p5", "nothing kept from the failed run");
    assert_eq!(queries(), [vec![5, 666], vec![5]]);
    let stats = products::stats();
    assert_eq!((stats.load_errors, stats.negative_hits), (1, 1));
}

#[memo_runtime::cached(batch, capacity = 1_000)]
fn squares(mut ids: Vec<u64>) -> HashMap<u64, u64> {
    ids.sort_unstable();
    ids.into_iter().map(|id| (id, id * id)).collect()
}

#[test]
fn a_sync_batch_function_takes_its_missing_keys_by_value() {
    assert_eq!(squares(vec![3, 1, 2]), HashMap::from([(1, 1), (2, 4), (3, 9)]));
    assert_eq!(squares(vec![1, 4]), HashMap::from([(1, 1), (4, 16)]));
    let stats = squares::stats();
    assert_eq!((stats.hits, stats.loads), (1, 4));
    squares::invalidate_all();
    assert_eq!(squares::stats().entries, 0);
}

/// What `tagged_products` loaded, in order.
static TAGGED_LOADS: Mutex<Vec<Vec<u64>>> = Mutex::new(Vec::new());

#[memo_runtime::cached(batch, ttl = 60, tags_from = |name: &String| [format!("batch-product:{name}")])]
async fn tagged_products(ids: Vec<u64>) -> HashMap<u64, String> {
    TAGGED_LOADS.lock().unwrap().push(ids.clone());
    ids.into_iter().map(|id| (id, format!("n{id}"))).collect()
}

#[tokio::test]
async fn tags_from_each_value_invalidate_that_key_alone() {
    assert_eq!(tagged_products(vec![1, 2]).await.len(), 2);
    memo_runtime::invalidate_tag("batch-product:n2");
    assert_eq!(tagged_products(vec![1, 2]).await[&2], "n2");
    assert_eq!(*TAGGED_LOADS.lock().unwrap(), [vec![1, 2], vec![2]], "1 kept, 2 reloaded");
}

/// The ids each run of `names` was asked for.
static NAME_QUERIES: Mutex<Vec<Vec<u64>>> = Mutex::new(Vec::new());

#[memo_runtime::cached(batch, ttl = 60)]
async fn names(mut ids: Vec<u64>) -> Result<HashMap<u64, String>, String> {
    ids.sort_unstable();
    NAME_QUERIES.lock().unwrap().push(ids.clone());
    if ids.contains(&666) {
        return Err("the query failed".to_owned());
    }
    Ok(ids.into_iter().filter(|id| *id < 100).map(|id| (id, format!("name {id}"))).collect())
}

#[tokio::test]
async fn single_key_calls_made_together_in_a_request_scope_are_one_batch() {
    let queries = || std::mem::take(&mut *NAME_QUERIES.lock().unwrap());
    let found = memo_runtime::scope(async {
        tokio::join!(names::one(3), names::one(1), names::one(2), names::one(3), names::one(500))
    })
    .await;
    assert_eq!(found.0.unwrap().as_deref(), Some("name 3"));
    assert_eq!(found.1.unwrap().as_deref(), Some("name 1"));
    assert_eq!(found.4.unwrap(), None, "absent");
    assert_eq!(queries(), [vec![1, 2, 3, 500]], "five calls, one batch of the four keys");

    // Hits answer at once; the misses of a later round are one batch again.
    let later = memo_runtime::scope(async { tokio::join!(names::one(2), names::one(4), names::one(5)) }).await;
    assert_eq!(later.1.unwrap().as_deref(), Some("name 4"));
    assert_eq!(queries(), [vec![4, 5]]);

    // Outside a scope, a call is a batch of one.
    assert_eq!(names::one(6).await.unwrap().as_deref(), Some("name 6"));
    assert_eq!(queries(), [vec![6]]);

    // A failed round fails its first call; the others load their own key.
    let failed = memo_runtime::scope(async { tokio::join!(names::one(666), names::one(7)) }).await;
    assert_eq!(failed.0, Err("the query failed".to_owned()));
    assert_eq!(failed.1.unwrap().as_deref(), Some("name 7"));
    assert_eq!(queries(), [vec![7, 666], vec![7]]);
}

#[memo_runtime::cached(batch)]
fn cubes(ids: &[u64]) -> HashMap<u64, u64> {
    ids.iter().filter(|id| **id < 100).map(|&id| (id, id * id * id)).collect()
}

#[test]
fn one_key_of_a_sync_batch_function() {
    assert_eq!(cubes::one(2), Some(8));
    assert_eq!(cubes::one(2), Some(8));
    assert_eq!(cubes::one(200), None);
    let stats = cubes::stats();
    assert_eq!((stats.hits, stats.loads), (1, 2));
}

/// A return type named by an alias, as a service's own `Result` often is.
type Found<V> = Result<HashMap<u64, V>, String>;

#[memo_runtime::cached(batch)]
fn halves(ids: &[u64]) -> Found<u64> {
    if ids.contains(&13) {
        return Err("unlucky".to_owned());
    }
    Ok(ids.iter().filter(|id| *id % 2 == 0).map(|&id| (id, id / 2)).collect())
}

#[test]
fn a_batch_function_may_name_its_return_type_by_an_alias() {
    assert_eq!(halves(&[2, 3, 4]), Ok(HashMap::from([(2, 1), (4, 2)])));
    assert_eq!(halves(&[4, 13]), Err("unlucky".to_owned()));
    assert_eq!(halves::one(2), Ok(Some(1)));
    halves::put(&6, 3);
    assert_eq!(halves(&[2, 6]), Ok(HashMap::from([(2, 1), (6, 3)])));
    let stats = halves::stats();
    assert_eq!((stats.loads, stats.load_errors), (4, 1));
    assert!(halves::invalidate(&2));
}
