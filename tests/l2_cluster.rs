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
    let connect = || {
        Memo::builder()
            .redis_cluster(cluster.urls())
            .namespace("c")
            .l2_timeout(Duration::from_millis(500))
            .connect()
            .unwrap()
    };
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
