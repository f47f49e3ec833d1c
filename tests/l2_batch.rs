//! Batch loads through the Redis L2, against a real `redis-server`: the keys a batch call
//! leads are read from the L2 together, and only those no instance stored are loaded; the
//! values a batch loads are written to the L2 for the other instances. Its own test binary:
//! `#[cached(batch, distributed)]` uses the process-wide L2 from `Memo::builder().install()`.

mod support;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use memo_runtime::l2::keys::{self, KeyBytes};
use memo_runtime::{Cache, Memo, cached};
use support::redis_server::RedisServer;

/// The keys of each run of `names`' body.
static RUNS: Mutex<Vec<Vec<u64>>> = Mutex::new(Vec::new());

/// Finds names, but none for 404.
#[cached(batch, ttl = 60, negative_ttl = 60, distributed, name = "names", version = 3)]
async fn names(ids: Vec<u64>) -> Result<HashMap<u64, String>, String> {
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    RUNS.lock().unwrap().push(sorted);
    Ok(ids.into_iter().filter(|id| *id != 404).map(|id| (id, format!("#{id}"))).collect())
}

fn entry_key(id: u64) -> String {
    keys::entry_key("app", "names", 3, &KeyBytes::of(&id).unwrap())
}

/// Another instance of `names`: its own L1 and connection, the same name and version.
fn other_instance(server: &RedisServer) -> &'static Cache<u64, Option<String>> {
    let l2 = Memo::builder().redis(server.url()).namespace("app").l2_timeout(Duration::from_secs(1)).connect();
    Box::leak(Box::new(
        Cache::builder()
            .name("names")
            .version(3)
            .ttl(Duration::from_secs(60))
            .negative_ttl(Duration::from_secs(60))
            .l2(l2.unwrap())
            .build(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_loads_only_the_keys_no_instance_has_stored() {
    let server = RedisServer::start();
    Memo::builder().redis(server.url()).namespace("app").l2_timeout(Duration::from_secs(1)).install().unwrap();

    // This instance loads 1, 2, 3 and finds no 404: all four go to the L2.
    let found = names(vec![1, 2, 3, 404]).await.unwrap();
    assert_eq!(found.len(), 3);
    for id in [1, 2, 3, 404] {
        server.written(&entry_key(id)).await;
    }

    // The other instance asks for them and one more: it reads the four from the L2 together
    // and loads only 4.
    let other = other_instance(&server);
    let other_runs = Mutex::new(Vec::new());
    let found = other
        .through_l2()
        .get_many_or_load_async([1, 2, 3, 4, 404], |ids| {
            other_runs.lock().unwrap().push(ids.clone());
            async move { Ok::<_, String>(ids.into_iter().map(|id| (id, format!("#{id} there"))).collect()) }
        })
        .await
        .unwrap();
    let expected: HashMap<u64, String> = [(1, "#1"), (2, "#2"), (3, "#3"), (4, "#4 there")]
        .into_iter()
        .map(|(id, name)| (id, name.to_owned()))
        .collect();
    assert_eq!(found, expected, "404 is absent: the L2 kept it as absent");
    assert_eq!(*other_runs.lock().unwrap(), vec![vec![4]], "only the key no instance had was loaded");
    assert_eq!(other.stats().l2_hits, 4);
    assert_eq!(other.stats().loads, 1);

    // Back here, 4 is read from the L2 the other instance wrote, not loaded.
    server.written(&entry_key(4)).await;
    assert_eq!(names(vec![1, 4]).await.unwrap()[&4], "#4 there");
    assert_eq!(*RUNS.lock().unwrap(), vec![vec![1, 2, 3, 404]], "one run of the body here");
    assert_eq!(names::stats().l2_hits, 1);
}
