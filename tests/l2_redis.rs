//! The Redis L2 against real `redis-server` processes: instances share entries, corrupt bytes
//! are misses, and a Redis that is down or dies costs no call its answer.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use memo_runtime::l2::keys::{self, KeyBytes};
use memo_runtime::outcome::ResultShape;
use memo_runtime::{Cache, Load, Memo, RedisL2};
use support::redis_server::RedisServer;

/// One "instance": its own L1 and its own connection to the shared Redis (leaked: a cache on
/// the backplane lives as long as the process, as the macros' caches do).
fn instance(l2: Arc<RedisL2>) -> &'static Cache<u64, String> {
    Box::leak(Box::new(
        Cache::builder().name("catalog::product").version(1).ttl(Duration::from_secs(60)).l2(l2).build(),
    ))
}

/// An L2 client with a generous timeout: these tests check behaviour, not latency, and run
/// many Redis processes at once on two cores.
fn l2(server: &RedisServer, namespace: &str) -> Arc<RedisL2> {
    l2_with_timeout(server, namespace, Duration::from_secs(1))
}

fn l2_with_timeout(server: &RedisServer, namespace: &str, timeout: Duration) -> Arc<RedisL2> {
    Memo::builder().redis(server.url()).namespace(namespace).l2_timeout(timeout).connect().unwrap()
}

async fn product(cache: &'static Cache<u64, String>, id: u64, loads: &AtomicU32) -> Result<String, String> {
    let shape = ResultShape::<String, String>::default();
    cache
        .through_l2()
        .get_or_load_async(
            id,
            Load::new(shape, async {
                loads.fetch_add(1, Ordering::SeqCst);
                Ok(format!("product {id}"))
            }),
        )
        .await
}

/// Waits until the background write of `key` reached Redis.
async fn written(server: &RedisServer, key: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.cli(&["EXISTS", key]) != "1" {
        assert!(Instant::now() < deadline, "{key} never written");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_loaded_by_one_instance_is_read_by_another() {
    let server = RedisServer::start();
    let (l2_a, l2_b) = (l2(&server, "share"), l2(&server, "share"));
    let (a, b) = (instance(Arc::clone(&l2_a)), instance(Arc::clone(&l2_b)));
    on_backplane(a, &l2_a).await;
    on_backplane(b, &l2_b).await;
    let (loads_a, loads_b) = (AtomicU32::new(0), AtomicU32::new(0));
    assert_eq!(product(a, 7, &loads_a).await.unwrap(), "product 7");
    let key = keys::entry_key("share", "catalog::product", 1, &KeyBytes::of(&7u64).unwrap());
    written(&server, &key).await;
    let ttl: i64 = server.cli(&["PTTL", &key]).parse().unwrap();
    assert!(ttl > 55_000 && ttl <= 60_000, "written with the entry's remaining time to live: {ttl}");

    assert_eq!(product(b, 7, &loads_b).await.unwrap(), "product 7");
    assert_eq!((loads_a.load(Ordering::SeqCst), loads_b.load(Ordering::SeqCst)), (1, 0), "B read A's value");
    assert_eq!(product(b, 7, &loads_b).await.unwrap(), "product 7");
    assert_eq!(b.stats().hits, 1, "then from its own L1");
    let info = b.entry_info(&7).unwrap();
    let origin = a.entry_info(&7).unwrap();
    assert_eq!(
        info.fresh_until_millis, origin.fresh_until_millis,
        "L1 filled with the remaining freshness, not a new ttl"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_and_foreign_bytes_are_misses() {
    let server = RedisServer::start();
    let l2 = l2(&server, "corrupt");
    let cache = instance(Arc::clone(&l2));
    let loads = AtomicU32::new(0);
    for (id, planted) in [(1u64, "garbage"), (2, "me\u{1}"), (3, "")] {
        let key = keys::entry_key("corrupt", "catalog::product", 1, &KeyBytes::of(&id).unwrap());
        server.cli(&["SET", &key, planted]);
        assert_eq!(product(cache, id, &loads).await.unwrap(), format!("product {id}"));
    }
    assert_eq!(loads.load(Ordering::SeqCst), 3, "each planted value was a miss, then loaded");
    assert_eq!(l2.stats().corrupt, 2, "an empty string reads as no entry at all");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_at_startup_costs_nothing_but_misses() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let l2 = Memo::builder()
        .redis(format!("redis://127.0.0.1:{closed}"))
        .l2_timeout(Duration::from_millis(50))
        .connect()
        .expect("an unreachable Redis is not an error at startup");
    let cache = instance(Arc::clone(&l2));
    let loads = AtomicU32::new(0);
    let started = Instant::now();
    for id in 0..50 {
        assert_eq!(product(cache, id, &loads).await.unwrap(), format!("product {id}"));
    }
    assert_eq!(loads.load(Ordering::SeqCst), 50);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bounded by the timeout and the breaker: {:?}",
        started.elapsed()
    );
    let stats = l2.stats();
    assert!(stats.skipped > 0, "the breaker opened: {stats:?}");
    assert!(stats.errors >= 5 && stats.errors < 50, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_dies_and_comes_back_fails_no_call() {
    let mut server = RedisServer::start();
    let l2 = l2(&server, "restart");
    let cache = instance(Arc::clone(&l2));
    let loads = AtomicU32::new(0);
    product(cache, 1, &loads).await.unwrap();
    server.kill();
    for id in 2..20 {
        assert_eq!(
            product(cache, id, &loads).await.unwrap(),
            format!("product {id}"),
            "Redis down: served by the loader"
        );
    }
    server.restart();
    // Back after at most one cool-down (the next probe) and a connection: the bound is that,
    // four times over for a busy machine. Until then calls are answered by the loader alone.
    let bound = l2.breaker_cooldown() * 4 + l2.timeout() * 4;
    let started = Instant::now();
    let mut id = 100;
    loop {
        id += 1;
        let writes = l2.stats().writes;
        product(cache, id, &loads).await.unwrap();
        while !l2.is_idle() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if l2.stats().writes > writes {
            break;
        }
        assert!(
            started.elapsed() < bound,
            "the L2 was not used again within {bound:?} of the restart: {:?}",
            l2.stats()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (other, other_loads) = (instance(l2), AtomicU32::new(0));
    assert_eq!(product(other, id, &other_loads).await.unwrap(), format!("product {id}"));
    assert_eq!(other_loads.load(Ordering::SeqCst), 0, "recovered: the other instance reads the L2");
}

#[test]
fn a_bad_url_is_an_error_at_install() {
    let error = Memo::builder().redis("http://user:hunter2@example").connect().unwrap_err();
    let message = error.to_string();
    assert!(message.contains("invalid Redis URL"), "{message}");
    assert!(!message.contains("hunter2"), "the password is not printed: {message}");
}

/// Waits until the L2 copy of `key` exists, then checks a local invalidation is not undone by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_invalidations_are_not_undone_by_older_l2_copies() {
    let server = RedisServer::start();
    let cache = instance(l2(&server, "undo"));
    let loads = AtomicU32::new(0);
    let entry = |id: u64| keys::entry_key("undo", "catalog::product", 1, &KeyBytes::of(&id).unwrap());

    product(cache, 1, &loads).await.unwrap();
    written(&server, &entry(1)).await;
    cache.invalidate(&1);
    product(cache, 1, &loads).await.unwrap();
    assert_eq!(loads.load(Ordering::SeqCst), 2, "after invalidate, the L2 copy is older: loaded again");

    product(cache, 2, &loads).await.unwrap();
    written(&server, &entry(2)).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    cache.invalidate_all();
    product(cache, 2, &loads).await.unwrap();
    assert_eq!(loads.load(Ordering::SeqCst), 4, "after invalidate_all too");

    let shape = ResultShape::<String, String>::default();
    let tagged = |loads: &'static AtomicU32| {
        cache.through_l2().get_or_load_async(
            3,
            Load::new(shape, async move {
                loads.fetch_add(1, Ordering::SeqCst);
                Ok("tagged".to_owned())
            })
            .tags(["undo:tag:3"]),
        )
    };
    static TAGGED: AtomicU32 = AtomicU32::new(0);
    tagged(&TAGGED).await.unwrap();
    written(&server, &entry(3)).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    memo_runtime::invalidate_tag("undo:tag:3");
    cache.invalidate(&3); // an empty L1, as on another instance of this process
    tagged(&TAGGED).await.unwrap();
    assert_eq!(TAGGED.load(Ordering::SeqCst), 2, "the L2 copy carries a tag invalidated since it was made");
}

/// Puts an instance on the backplane: its first distributed call attaches it, and it then drops
/// its L1 copies once subscribed (they may have missed messages); waits for that.
async fn on_backplane(cache: &'static Cache<u64, String>, l2: &Arc<RedisL2>) {
    product(cache, u64::MAX, &AtomicU32::new(0)).await.unwrap();
    subscribed(&[l2]).await;
}

/// Waits until both instances' backplane subscriptions are up.
async fn subscribed(l2s: &[&Arc<RedisL2>]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !l2s.iter().all(|l2| l2.is_subscribed()) {
        assert!(Instant::now() < deadline, "backplane not subscribed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidation_reaches_the_other_instance_within_100_ms() {
    let server = RedisServer::start();
    let (l2_a, l2_b) = (l2(&server, "plane"), l2(&server, "plane"));
    let (a, b) = (instance(Arc::clone(&l2_a)), instance(Arc::clone(&l2_b)));
    on_backplane(a, &l2_a).await;
    on_backplane(b, &l2_b).await;
    let loads = AtomicU32::new(0);
    product(a, 1, &loads).await.unwrap();
    written(&server, &keys::entry_key("plane", "catalog::product", 1, &KeyBytes::of(&1u64).unwrap())).await;
    product(b, 1, &loads).await.unwrap();
    assert!(b.entry_info(&1).is_some(), "B holds a copy in its L1");

    let (received_a, received_b) = (l2_a.messages_received(), l2_b.messages_received());
    let started = Instant::now();
    a.invalidate(&1);
    while b.entry_info(&1).is_some() {
        assert!(started.elapsed() < Duration::from_millis(100), "B copy still there after 100 ms");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(l2_a.messages_received(), received_a, "an instance ignores its own messages");
    assert!(l2_b.messages_received() > received_b);
    assert_eq!(product(b, 1, &loads).await.unwrap(), "product 1");
    assert_eq!(loads.load(Ordering::SeqCst), 2, "B loaded again: the L2 copy was deleted or older");

    // Write-through: A updates the source and puts the new value; B's copy goes, and B then
    // answers with the new value (from the L2 or, if it cannot order the copies, the source).
    static SOURCE: std::sync::Mutex<&str> = std::sync::Mutex::new("original");
    let from_source = |cache: &'static Cache<u64, String>| {
        let shape = ResultShape::<String, String>::default();
        cache.through_l2().get_or_load_async(2, Load::new(shape, async { Ok(SOURCE.lock().unwrap().to_string()) }))
    };
    assert_eq!(from_source(b).await.unwrap(), "original");
    *SOURCE.lock().unwrap() = "renamed";
    a.insert(2, "renamed".to_owned());
    let started = Instant::now();
    while b.entry_info(&2).is_some() {
        assert!(started.elapsed() < Duration::from_millis(100));
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(from_source(b).await.unwrap(), "renamed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_invalidated_by_another_process_makes_l2_copies_misses() {
    let server = RedisServer::start();
    let l2 = l2(&server, "tagtime");
    let cache = instance(Arc::clone(&l2));
    static LOADS: AtomicU32 = AtomicU32::new(0);
    let shape = ResultShape::<String, String>::default();
    let load = || {
        cache.through_l2().get_or_load_async(
            5,
            Load::new(shape, async {
                LOADS.fetch_add(1, Ordering::SeqCst);
                Ok("five".to_owned())
            })
            .tags(["tagtime:product:5"]),
        )
    };
    load().await.unwrap();
    written(&server, &keys::entry_key("tagtime", "catalog::product", 1, &KeyBytes::of(&5u64).unwrap())).await;
    // Another process invalidated the tag: only Redis knows.
    let later = memo_runtime::clock::now_millis() + 10;
    server.cli(&["SET", &keys::tag_key("tagtime", "tagtime:product:5"), &later.to_string()]);
    let fresh_instance = instance(Arc::clone(&l2));
    let other = || {
        fresh_instance.through_l2().get_or_load_async(
            5,
            Load::new(shape, async {
                LOADS.fetch_add(1, Ordering::SeqCst);
                Ok("reloaded".to_owned())
            }),
        )
    };
    assert_eq!(other().await.unwrap(), "reloaded", "the L2 copy predates the tag's invalidation");
    assert_eq!(LOADS.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalidations_made_while_redis_is_down_still_arrive() {
    let mut server = RedisServer::start();
    let (l2_a, l2_b) = (l2(&server, "outage"), l2(&server, "outage"));
    let (a, b) = (instance(Arc::clone(&l2_a)), instance(Arc::clone(&l2_b)));
    on_backplane(a, &l2_a).await;
    on_backplane(b, &l2_b).await;
    let loads = AtomicU32::new(0);
    product(a, 3, &loads).await.unwrap();
    product(b, 3, &loads).await.unwrap();
    server.kill();
    a.invalidate(&3);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(b.entry_info(&3).is_some(), "nothing could reach B yet");
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    while b.entry_info(&3).is_some() {
        assert!(Instant::now() < deadline, "B kept a copy that missed an invalidation");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Regression guard: building the connection spawns its driver, which panicked outside a
/// tokio runtime; an L2 is now set up from plain `main` before the runtime starts.
#[test]
fn an_l2_can_be_set_up_before_the_runtime_starts() {
    let server = RedisServer::start();
    let l2 = Memo::builder().redis(server.url()).namespace("early").connect().expect("no runtime needed");
    let cache = instance(Arc::clone(&l2));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let loads = AtomicU32::new(0);
    runtime.block_on(async {
        assert_eq!(product(cache, 1, &loads).await.unwrap(), "product 1");
        written(&server, &keys::entry_key("early", "catalog::product", 1, &KeyBytes::of(&1u64).unwrap())).await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_l2_slower_than_its_timeout_costs_at_most_the_timeout() {
    let server = RedisServer::start();
    let l2 = l2_with_timeout(&server, "slow", Duration::from_millis(200));
    let cache = instance(Arc::clone(&l2));
    let loads = AtomicU32::new(0);
    product(cache, 0, &loads).await.unwrap(); // connected
    let url = server.url();
    let stall = std::thread::spawn(move || {
        let _ = std::process::Command::new("redis-cli").args(["-u", &url, "DEBUG", "SLEEP", "1.5"]).output();
    });
    tokio::time::sleep(Duration::from_millis(100)).await; // the server is now asleep
    let started = Instant::now();
    assert_eq!(product(cache, 1, &loads).await.unwrap(), "product 1");
    let took = started.elapsed();
    assert!(took < Duration::from_millis(600), "the 200 ms L2 timeout bounds the call: {took:?}");
    assert!(l2.stats().errors >= 1, "the slow read counted as an L2 fault");
    stall.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_signing_key_planted_or_unsigned_entries_are_misses() {
    let server = RedisServer::start();
    let secret = *b"0123456789abcdef0123456789abcdef";
    let signed = |ns: &str| Memo::builder().redis(server.url()).namespace(ns).signing_key(secret).connect().unwrap();
    let (l2_a, l2_b) = (signed("signed"), signed("signed"));
    let unkeyed = l2(&server, "signed");
    let (a, b, intruder) = (instance(l2_a), instance(Arc::clone(&l2_b)), instance(unkeyed));
    let loads = AtomicU32::new(0);

    product(a, 1, &loads).await.unwrap();
    written(&server, &keys::entry_key("signed", "catalog::product", 1, &KeyBytes::of(&1u64).unwrap())).await;
    product(b, 1, &loads).await.unwrap();
    assert_eq!(loads.load(Ordering::SeqCst), 1, "instances with the key read each other's entries");

    // A process without the key writes an entry B has never seen.
    product(intruder, 2, &loads).await.unwrap();
    written(&server, &keys::entry_key("signed", "catalog::product", 1, &KeyBytes::of(&2u64).unwrap())).await;
    product(b, 2, &loads).await.unwrap();
    assert_eq!(loads.load(Ordering::SeqCst), 3, "the unsigned entry was a miss for B");
    assert_eq!(l2_b.stats().corrupt, 1);
}

/// Stale-while-revalidate with the L2: an instance with an empty L1 answers with a stale L2
/// copy at once, one background reload refreshes both levels.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_l2_copies_answer_at_once_while_one_reload_refreshes_them() {
    let server = RedisServer::start();
    let swr = |l2| -> &'static Cache<u64, String> {
        Box::leak(Box::new(
            Cache::builder()
                .name("swr::item")
                .ttl(Duration::from_millis(300))
                .stale(Duration::from_secs(30))
                .l2(l2)
                .build(),
        ))
    };
    let (l2_a, l2_c) = (l2(&server, "swr"), l2(&server, "swr"));
    let (a, c) = (swr(Arc::clone(&l2_a)), swr(Arc::clone(&l2_c)));
    on_backplane(a, &l2_a).await;
    on_backplane(c, &l2_c).await;
    static VERSION: AtomicU32 = AtomicU32::new(0);
    let call = |cache: &'static Cache<u64, String>| {
        let shape = ResultShape::<String, String>::default();
        cache.through_l2().get_or_load_async(
            1,
            Load::new(shape, async {
                let v = VERSION.fetch_add(1, Ordering::SeqCst) + 1;
                Ok(format!("v{v}"))
            })
            .background(),
        )
    };
    assert_eq!(call(a).await.unwrap(), "v1");
    let key = keys::entry_key("swr", "swr::item", 0, &KeyBytes::of(&1u64).unwrap());
    written(&server, &key).await;
    tokio::time::sleep(Duration::from_millis(400)).await; // past the ttl, inside the stale window

    let started = Instant::now();
    assert_eq!(call(c).await.unwrap(), "v1", "C's L1 was empty: the stale L2 copy answers");
    assert!(started.elapsed() < Duration::from_millis(900), "without waiting for the 1 s reload");
    let deadline = Instant::now() + Duration::from_secs(5);
    while call(c).await.unwrap() != "v2" {
        assert!(Instant::now() < deadline, "the background reload never landed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(VERSION.load(Ordering::SeqCst), 2, "one reload");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let stored = server.cli(&["GET", &key]);
        if stored.contains("v2") {
            break;
        }
        assert!(Instant::now() < deadline, "the reload was not written to the L2: {stored:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// An `invalidate_all` also holds for instances started after it: older L2 copies are misses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalidate_all_holds_for_instances_that_start_later() {
    let server = RedisServer::start();
    let a = instance(l2(&server, "cleared"));
    let loads = AtomicU32::new(0);
    product(a, 9, &loads).await.unwrap();
    written(&server, &keys::entry_key("cleared", "catalog::product", 1, &KeyBytes::of(&9u64).unwrap())).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    a.invalidate_all();
    written(&server, &keys::cleared_key("cleared", "catalog::product", 1)).await;

    let later = instance(l2(&server, "cleared"));
    product(later, 9, &loads).await.unwrap();
    assert_eq!(loads.load(Ordering::SeqCst), 2, "the L2 copy predates the clear: loaded again");
    product(later, 10, &loads).await.unwrap();
    let other = instance(l2(&server, "cleared"));
    written(&server, &keys::entry_key("cleared", "catalog::product", 1, &KeyBytes::of(&10u64).unwrap())).await;
    product(other, 10, &loads).await.unwrap();
    assert_eq!(loads.load(Ordering::SeqCst), 3, "entries made after the clear are read as usual");
}

/// What integrity needs a signing key: without one, an entry someone edited in Redis that
/// still decodes is served as edited; with one, an edit of any byte makes it a miss.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_signing_key_catches_entries_edited_in_redis() {
    let server = RedisServer::start();
    let mut raw = redis::Client::open(server.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    for (namespace, signed) in [("edited", false), ("edited-signed", true)] {
        let mut builder = Memo::builder().redis(server.url()).namespace(namespace).l2_timeout(Duration::from_secs(1));
        if signed {
            builder = builder.signing_key(*b"0123456789abcdef0123456789abcdef");
        }
        let (writer, reader) = (instance(builder.clone().connect().unwrap()), instance(builder.connect().unwrap()));
        let loads = AtomicU32::new(0);
        product(writer, 1, &loads).await.unwrap();
        let key = keys::entry_key(namespace, "catalog::product", 1, &KeyBytes::of(&1u64).unwrap());
        written(&server, &key).await;
        let mut bytes: Vec<u8> = redis::cmd("GET").arg(&key).query_async(&mut raw).await.unwrap();
        let at = bytes.windows(9).position(|w| w == b"product 1").expect("the value's text in the entry");
        bytes[at] = b'P';
        redis::cmd("SET").arg(&key).arg(bytes).query_async::<()>(&mut raw).await.unwrap();
        let answer = product(reader, 1, &loads).await.unwrap();
        if signed {
            assert_eq!((answer.as_str(), loads.load(Ordering::SeqCst)), ("product 1", 2), "caught: loaded again");
        } else {
            assert_eq!((answer.as_str(), loads.load(Ordering::SeqCst)), ("Product 1", 1), "served as edited");
        }
    }
}

/// Regression: the L2's background tasks ran on the first runtime it was used in, and stopped
/// with it, so nothing was written or invalidated in Redis afterwards. An invalidation leaves a
/// tombstone in Redis: a late write of an older value cannot bring it back.
#[test]
fn the_l2_keeps_working_after_the_runtime_it_started_in_shuts_down() {
    let server = RedisServer::start();
    let l2 = l2(&server, "rehome");
    let cache = instance(Arc::clone(&l2));
    let loads = AtomicU32::new(0);
    let first = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    first.block_on(async { product(cache, 1, &loads).await.unwrap() });
    drop(first); // its tasks with it
    let second = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    second.block_on(async {
        let key = keys::entry_key("rehome", "catalog::product", 1, &KeyBytes::of(&2u64).unwrap());
        product(cache, 2, &loads).await.unwrap();
        written(&server, &key).await;
        cache.invalidate(&2);
        let bound = l2.breaker_cooldown() * 4 + l2.timeout() * 4;
        let started = Instant::now();
        while server.cli(&["STRLEN", &key]) != "12" {
            assert!(started.elapsed() < bound, "the invalidation never reached Redis: {:?}", l2.stats());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
}

/// Two instances on `server`'s backplane in `namespace`, their caches made by `build`.
async fn two_instances(
    server: &RedisServer,
    namespace: &str,
    build: fn(Arc<RedisL2>) -> &'static Cache<u64, String>,
) -> (&'static Cache<u64, String>, &'static Cache<u64, String>) {
    let (l2_a, l2_b) = (l2(server, namespace), l2(server, namespace));
    let (a, b) = (build(Arc::clone(&l2_a)), build(Arc::clone(&l2_b)));
    on_backplane(a, &l2_a).await;
    on_backplane(b, &l2_b).await;
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bypassed_load_replaces_the_other_instances_copies() {
    let server = RedisServer::start();
    let (a, b) = two_instances(&server, "bypass", instance).await;
    static SOURCE: std::sync::Mutex<&str> = std::sync::Mutex::new("v1");
    let from_source = |cache: &'static Cache<u64, String>| {
        let shape = ResultShape::<String, String>::default();
        cache.through_l2().get_or_load_async(5, Load::new(shape, async { Ok(SOURCE.lock().unwrap().to_string()) }))
    };
    assert_eq!(from_source(a).await.unwrap(), "v1");
    written(&server, &keys::entry_key("bypass", "catalog::product", 1, &KeyBytes::of(&5u64).unwrap())).await;
    assert_eq!(from_source(b).await.unwrap(), "v1");
    assert!(b.entry_info(&5).is_some(), "B holds a copy in its L1");
    let b_loads = b.stats().loads;

    *SOURCE.lock().unwrap() = "v2";
    assert_eq!(from_source(a).await.unwrap(), "v1", "A's own copy, until it bypasses it");
    assert_eq!(memo_runtime::bypass(from_source(a)).await.unwrap(), "v2");
    assert_eq!(from_source(a).await.unwrap(), "v2", "stored in A's L1");
    // The store travels as any other: the L2 copy replaced, B's copy dropped on the message.
    let started = Instant::now();
    while b.entry_info(&5).is_some_and(|info| info.created_at_millis < a.entry_info(&5).unwrap().created_at_millis) {
        assert!(started.elapsed() < Duration::from_secs(1), "B's copy still there after the L2 timeout");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(from_source(b).await.unwrap(), "v2");
    assert_eq!(b.stats().loads, b_loads, "B read the new value from the L2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_fleet_single_flight_two_instances_load_a_cold_key_once() {
    let server = RedisServer::start();
    let fleet = |l2: Arc<RedisL2>| -> &'static Cache<u64, String> {
        Box::leak(Box::new(
            Cache::builder()
                .name("catalog::product")
                .version(1)
                .ttl(Duration::from_secs(60))
                .l2(l2)
                .fleet_single_flight(Duration::from_secs(5))
                .build(),
        ))
    };
    let (a, b) = two_instances(&server, "fleet", fleet).await;
    static LOADS: AtomicU32 = AtomicU32::new(0);
    let call = |cache: &'static Cache<u64, String>| {
        tokio::spawn(async move {
            let shape = ResultShape::<String, String>::default();
            let body = async {
                LOADS.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(200)).await;
                Ok("loaded once".to_owned())
            };
            cache.through_l2().get_or_load_async(7, Load::new(shape, body)).await
        })
    };
    let calls: Vec<_> = (0..20).map(|i| call(if i % 2 == 0 { a } else { b })).collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap(), "loaded once");
    }
    assert_eq!(LOADS.load(Ordering::SeqCst), 1, "one load for both instances");
    assert_eq!(
        server.cli(&[
            "EXISTS",
            &keys::lock_key(&keys::entry_key("fleet", "catalog::product", 1, &KeyBytes::of(&7u64).unwrap()))
        ]),
        "0",
        "the lock was released"
    );
}
