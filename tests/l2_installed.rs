//! `#[cached(distributed)]` with the process-wide L2 from `Memo::builder().install()`: its own
//! test binary, since an install holds for the whole process.

mod support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use memo_runtime::{Load, Memo, cached};
use serde::{Deserialize, Serialize};
use support::redis_server::RedisServer;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Product {
    id: u64,
    name: String,
}

static LOADS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 60, distributed, name = "products", version = 2)]
async fn product(id: u64) -> Result<Option<Product>, String> {
    LOADS.fetch_add(1, Ordering::SeqCst);
    Ok((id < 100).then(|| Product { id, name: format!("product {id}") }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_functions_write_through_to_the_installed_l2() {
    let server = RedisServer::start();
    Memo::builder().redis(server.url()).namespace("app").install().unwrap();
    assert!(matches!(Memo::builder().redis(server.url()).install(), Err(memo_runtime::InstallError::AlreadyInstalled)));

    assert_eq!(product(7).await.unwrap().unwrap().name, "product 7");
    let key =
        memo_runtime::l2::keys::entry_key("app", "products", 2, &memo_runtime::l2::keys::KeyBytes::of(&7u64).unwrap());
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.cli(&["EXISTS", &key]) != "1" {
        assert!(Instant::now() < deadline, "not written to the L2");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // Another instance (its own cache and connection, same name and version) loads product 8;
    // this one then reads it from the L2 instead of running the body.
    let other: &'static memo_runtime::Cache<u64, Option<Product>> = Box::leak(Box::new(
        memo_runtime::Cache::builder()
            .name("products")
            .version(2)
            .ttl(Duration::from_secs(60))
            .l2(Memo::builder().redis(server.url()).namespace("app").connect().unwrap())
            .build(),
    ));
    let shape = memo_runtime::outcome::ResultShape::<Option<Product>, String>::default();
    let loaded = other
        .through_l2()
        .get_or_load_async(
            8,
            Load::new(shape, async { Ok(Some(Product { id: 8, name: "from the other instance".into() })) }),
        )
        .await;
    assert!(loaded.is_ok());
    let key =
        memo_runtime::l2::keys::entry_key("app", "products", 2, &memo_runtime::l2::keys::KeyBytes::of(&8u64).unwrap());
    while server.cli(&["EXISTS", &key]) != "1" {
        assert!(Instant::now() < deadline, "not written to the L2");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(product(8).await.unwrap().unwrap().name, "from the other instance");
    assert_eq!(LOADS.load(Ordering::SeqCst), 1, "read from the L2, not loaded");
    assert_eq!(memo_runtime::memo::installed_l2().unwrap().stats().hits, 1);
}

static SWR_LOADS: AtomicU32 = AtomicU32::new(0);

/// `distributed` composes with `stale`, `timeout` and tags.
#[cached(ttl = 60, stale = 30, timeout = "500ms", distributed, tags = [format!("installed:{id}")])]
async fn composed(id: u64) -> Result<u64, memo_runtime::LoadTimeout> {
    SWR_LOADS.fetch_add(1, Ordering::SeqCst);
    Ok(id * 2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_composes_with_the_freshness_options() {
    // Runs without an installed L2 too: then it is a plain stale/timeout cache.
    assert_eq!(composed(21).await, Ok(42));
    assert_eq!(composed(21).await, Ok(42));
    assert_eq!(SWR_LOADS.load(Ordering::SeqCst), 1);
}
