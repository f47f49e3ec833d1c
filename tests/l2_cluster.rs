//! The L2 on a Redis Cluster of three masters (made with `redis-cli --cluster create`):
//! entries spread over the nodes, instances share them, and the backplane reaches every
//! instance through cluster-wide pub/sub.

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use memo_runtime::l2::keys::{self, KeyBytes};
use memo_runtime::outcome::ResultShape;
use memo_runtime::{Cache, Load, Memo, RedisL2};
use support::redis_server::RedisCluster;

/// An L2 client of `cluster`, its keys under `namespace`.
fn connect(cluster: &RedisCluster, namespace: &str) -> Arc<RedisL2> {
    Memo::builder()
        .redis_cluster(cluster.urls())
        .namespace(namespace)
        .l2_timeout(Duration::from_millis(500))
        .connect()
        .unwrap()
}

fn instance(l2: Arc<RedisL2>) -> &'static Cache<u64, String> {
    Box::leak(Box::new(Cache::builder().name("cluster::item").ttl(Duration::from_secs(60)).l2(l2).build()))
}

async fn item(cache: &'static Cache<u64, String>, id: u64, loads: &AtomicU32) -> String {
    let shape = ResultShape::<String, String>::default();
    cache
        .through_l2()
        .get_or_load_async(
            id,
            Load::new(shape, async {
                loads.fetch_add(1, Ordering::SeqCst);
                Ok(format!("item {id}"))
            })
            .tags([format!("cluster:item:{id}")]),
        )
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_share_entries_spread_over_a_three_master_cluster() {
    let cluster = RedisCluster::start();
    let connect = || connect(&cluster, "c");
    let (l2_a, l2_b) = (connect(), connect());
    let (a, b) = (instance(Arc::clone(&l2_a)), instance(Arc::clone(&l2_b)));
    let loads = AtomicU32::new(0);
    for id in 0..30 {
        item(a, id, &loads).await;
    }
    let names: Vec<String> =
        (0..30u64).map(|id| keys::entry_key("c", "cluster::item", 0, &KeyBytes::of(&id).unwrap())).collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !names.iter().all(|name| cluster.cli(&["EXISTS", name]) == "1") {
        assert!(Instant::now() < deadline, "not every entry reached the cluster: {:?}", l2_a.stats());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let holders: HashSet<usize> = names
        .iter()
        .filter_map(|name| cluster.nodes.iter().position(|node| node.cli(&["EXISTS", name]) == "1"))
        .collect();
    assert_eq!(holders.len(), 3, "entries live on all three masters");

    for id in 0..30 {
        assert_eq!(item(b, id, &loads).await, format!("item {id}"));
    }
    assert_eq!(loads.load(Ordering::SeqCst), 30, "B read every entry from the cluster");

    // The backplane works through cluster-wide pub/sub.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(l2_a.is_subscribed() && l2_b.is_subscribed()) {
        assert!(Instant::now() < deadline, "backplane not subscribed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    a.invalidate(&5);
    let started = Instant::now();
    while b.entry_info(&5).is_some() {
        assert!(started.elapsed() < Duration::from_millis(500), "B's copy survived the invalidation");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn batch_instance(l2: Arc<RedisL2>) -> &'static Cache<u64, Option<String>> {
    Box::leak(Box::new(Cache::builder().name("cluster::batch").ttl(Duration::from_secs(60)).l2(l2).build()))
}

/// Loads `ids` in one batch, counting the keys the body was given.
async fn items(cache: &'static Cache<u64, Option<String>>, ids: Vec<u64>, loaded: &AtomicU32) -> usize {
    let found = cache
        .through_l2()
        .get_many_or_load_async(ids, |ids| {
            loaded.fetch_add(ids.len() as u32, Ordering::SeqCst);
            async move { Ok::<_, String>(ids.into_iter().map(|id| (id, format!("item {id}"))).collect()) }
        })
        .await;
    found.unwrap().len()
}

/// A batch's keys live on several masters: each is read from its node, and none is loaded
/// again by another instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_reads_keys_spread_over_the_cluster_from_their_nodes() {
    let cluster = RedisCluster::start();
    let connect = || connect(&cluster, "cb");
    let (a, b) = (batch_instance(connect()), batch_instance(connect()));
    let loaded = AtomicU32::new(0);
    assert_eq!(items(a, (0..30).collect(), &loaded).await, 30);
    let names: Vec<String> =
        (0..30u64).map(|id| keys::entry_key("cb", "cluster::batch", 0, &KeyBytes::of(&id).unwrap())).collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !names.iter().all(|name| cluster.cli(&["EXISTS", name]) == "1") {
        assert!(Instant::now() < deadline, "not every entry reached the cluster");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let holders: HashSet<usize> = names
        .iter()
        .filter_map(|name| cluster.nodes.iter().position(|node| node.cli(&["EXISTS", name]) == "1"))
        .collect();
    assert_eq!(holders.len(), 3, "the batch's entries live on all three masters");

    assert_eq!(items(b, (0..31).collect(), &loaded).await, 31);
    assert_eq!(loaded.load(Ordering::SeqCst), 31, "B loaded only key 30, which no instance had");
    assert_eq!(b.stats().l2_hits, 30);
}
