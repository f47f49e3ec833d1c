//! The L2 over TLS (`rediss://`), against a `redis-server` that serves TLS only, with a
//! certificate from a test CA made by openssl.

mod support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use memo_runtime::l2::keys::{self, KeyBytes};
use memo_runtime::outcome::ResultShape;
use memo_runtime::{Cache, Load, Memo};
use support::redis_server::RedisServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_travel_over_tls_to_a_server_a_private_ca_vouches_for() {
    let server = RedisServer::start_tls();
    assert!(server.url().starts_with("rediss://"));
    let l2 = Memo::builder()
        .redis(server.url())
        .tls_root_certificate(server.ca_certificate())
        .namespace("tls")
        .l2_timeout(Duration::from_millis(500))
        .connect()
        .unwrap();
    let cache: &'static Cache<u64, String> =
        Box::leak(Box::new(Cache::builder().name("tls::item").ttl(Duration::from_secs(60)).l2(l2.clone()).build()));
    let loads = AtomicU32::new(0);
    let shape = ResultShape::<String, String>::default();
    let value = cache
        .through_l2()
        .get_or_load_async(
            1,
            Load::new(shape, async {
                loads.fetch_add(1, Ordering::SeqCst);
                Ok("over tls".to_owned())
            }),
        )
        .await;
    assert_eq!(value.as_deref(), Ok("over tls"));
    let key = keys::entry_key("tls", "tls::item", 0, &KeyBytes::of(&1u64).unwrap());
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.cli(&["EXISTS", &key]) != "1" {
        assert!(Instant::now() < deadline, "not written over TLS: {:?}", l2.stats());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(l2.stats().errors, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_no_trusted_ca_vouches_for_is_never_used() {
    let server = RedisServer::start_tls();
    let l2 =
        Memo::builder().redis(server.url()).namespace("tls").l2_timeout(Duration::from_millis(200)).connect().unwrap();
    let cache: &'static Cache<u64, String> = Box::leak(Box::new(
        Cache::builder().name("tls::untrusted").ttl(Duration::from_secs(60)).l2(l2.clone()).build(),
    ));
    let shape = ResultShape::<String, String>::default();
    let value = cache.through_l2().get_or_load_async(1, Load::new(shape, async { Ok("loaded".to_owned()) })).await;
    assert_eq!(value.as_deref(), Ok("loaded"), "the call is answered by the loader");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.cli(&["DBSIZE"]), "0", "nothing reached a server with an unverified certificate");
}

/// An application may install a process-wide crypto provider of its own (or none, with two
/// compiled in, where rustls cannot pick one and panics): memo's connections pass the ring
/// provider explicitly, so neither matters. Here the process's provider can agree on no cipher
/// suite at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_do_not_depend_on_the_process_wide_crypto_provider() {
    let useless =
        rustls::crypto::CryptoProvider { cipher_suites: Vec::new(), ..rustls::crypto::ring::default_provider() };
    let _ = useless.install_default();
    let server = RedisServer::start_tls();
    let l2 = Memo::builder()
        .redis(server.url())
        .tls_root_certificate(server.ca_certificate())
        .namespace("tls")
        .l2_timeout(Duration::from_millis(500))
        .connect()
        .unwrap();
    let cache: &'static Cache<u64, String> =
        Box::leak(Box::new(Cache::builder().name("tls::provider").ttl(Duration::from_secs(60)).l2(l2.clone()).build()));
    let shape = ResultShape::<String, String>::default();
    let value = cache.through_l2().get_or_load_async(1, Load::new(shape, async { Ok("ring".to_owned()) })).await;
    assert_eq!(value.as_deref(), Ok("ring"));
    let key = keys::entry_key("tls", "tls::provider", 0, &KeyBytes::of(&1u64).unwrap());
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.cli(&["EXISTS", &key]) != "1" {
        assert!(Instant::now() < deadline, "not written over TLS: {:?}", l2.stats());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
