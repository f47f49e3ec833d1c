//! The catalog example as users run it: startup errors, the endpoints with their caches and
//! invalidation, request memo on recommendations, the kill switch, PostgreSQL instead of
//! SQLite, and two instances sharing a Redis L2.

mod support;

use std::time::{Duration, Instant};

use support::catalog::{self, Service};
use support::postgres_server::PostgresServer;
use support::redis_server::RedisServer;

/// A startup failure is one line on stderr and exit code 1, never a panic.
fn assert_one_line_error(output: &std::process::Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line, got: {stderr}");
    assert!(lines[0].starts_with("catalog: error: "), "{stderr}");
    assert!(lines[0].contains(expected), "expected {expected:?} in {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bad_database_and_redis_urls_are_one_line_errors() {
    let dir = catalog::temp_dir("bad-urls");
    let db = dir.join("c.sqlite3");
    let db = db.to_str().unwrap();

    let output = catalog::run(&[], &[("DATABASE_URL", "postgres://catalog:hunter2@127.0.0.1:1/catalog")]);
    assert_one_line_error(&output, "cannot open the database at postgres://catalog:***@127.0.0.1:1/catalog");
    assert!(!String::from_utf8_lossy(&output.stderr).contains("hunter2"), "the password is not shown");

    let output = catalog::run(&[], &[("DATABASE_URL", "oracle://somewhere/catalog")]);
    assert_one_line_error(&output, "cannot open the database at oracle://somewhere/catalog");

    let output = catalog::run(&["--db", db], &[("REDIS_URL", "redis//missing-colon")]);
    assert_one_line_error(&output, "REDIS_URL");

    let output = catalog::run(&["--requests", "many"], &[]);
    assert_one_line_error(&output, "--requests: cannot read `many`");
}

#[tokio::test]
async fn endpoints_are_cached_and_a_price_change_invalidates_by_tag() {
    let dir = catalog::temp_dir("endpoints");
    let service = Service::start(&dir, &[]).await;
    let warm = service.queries().await;

    let (status, first) = service.get("/products/5").await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(service.get("/products/5").await.1, first);
    assert_eq!(service.queries().await - warm, 1.0, "the second read is a hit");
    assert_eq!(service.metric("memo_hits_total", r#"cache="catalog::api::products",layer="l1""#).await, 1.0);

    assert_eq!(service.get("/products/999999").await.0, 404);
    assert_eq!(service.get("/products/999999").await.0, 404);
    assert_eq!(service.queries().await - warm, 2.0, "a missing product is remembered (negative_ttl)");

    let category = first.split("\"category_id\":").nth(1).and_then(|s| s.split(',').next()).unwrap().to_owned();
    let page = format!("/categories/{category}/products?page=0");
    let (status, before) = service.get(&page).await;
    assert_eq!(status, 200);
    assert!(before.contains("\"id\":5,"), "product 5 is on its category's first page: {before}");
    service.get(&page).await;
    let (status, found) = service.get("/search?q=lamp").await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(service.queries().await - warm, 4.0, "one query for the page, one for the search");

    assert_eq!(service.put("/products/5", r#"{"price_cents": 7}"#).await.0, 204);
    let (_, product) = service.get("/products/5").await;
    assert!(product.contains("\"price_cents\":7"), "{product}");
    let (_, after) = service.get(&page).await;
    assert!(after.contains("\"id\":5,\"category_id\":") && after.contains("\"price_cents\":7"), "{after}");
    assert_eq!(service.queries().await - warm, 7.0, "the update, then product 5 and its page reloaded");
    assert_eq!(service.put("/products/999999", r#"{"price_cents": 7}"#).await.0, 404);
    service.stop().await;
}

#[tokio::test]
async fn recommendations_look_the_user_up_once_per_request_and_not_at_all_when_cached() {
    let dir = catalog::temp_dir("recommendations");
    let service = Service::start(&dir, &[]).await;
    let user = r#"cache="catalog::api::user""#;

    let (status, body) = service.get("/users/17/recommendations").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"user\":\"user 17"), "{body}");
    assert_eq!(service.metric("memo_misses_total", user).await, 1.0, "one lookup of user 17 in the request");
    assert_eq!(
        service.metric("memo_hits_total", &format!("{user},layer=\"request\"")).await,
        1.0,
        "the second from the memo"
    );

    let queries = service.queries().await;
    assert_eq!(service.get("/users/17/recommendations").await.1, body);
    assert_eq!(service.queries().await, queries, "the second request is answered from the caches");
    assert_eq!(service.get("/users/999999/recommendations").await.0, 404);
    service.stop().await;
}

#[tokio::test]
async fn memo_disable_sends_every_call_to_the_database() {
    let dir = catalog::temp_dir("disabled");
    let service = Service::start(&dir, &[("MEMO_DISABLE", "1")]).await;
    let before = service.queries().await;
    for _ in 0..3 {
        assert_eq!(service.get("/products/5").await.0, 200);
    }
    assert_eq!(service.queries().await - before, 3.0);
    assert_eq!(service.metric("memo_hits_total", "").await, 0.0);
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_the_redis_l2_and_see_each_others_updates() {
    let redis = RedisServer::start();
    let dir = catalog::temp_dir("two-instances");
    let env = [("REDIS_URL", redis.url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = Service::start(&dir, &env).await;
    let b = Service::start(&dir, &env).await;

    let (_, from_a) = a.get("/products/9").await;
    // The L2 write is in the background: wait until B finds it there.
    let deadline = Instant::now() + Duration::from_secs(5);
    let l2_hit = r#"cache="catalog::api::products",layer="l2""#;
    let b_before = b.queries().await;
    loop {
        let (_, from_b) = b.get("/products/9").await;
        assert_eq!(from_b, from_a);
        if b.metric("memo_hits_total", l2_hit).await == 1.0 {
            break;
        }
        b.metric("memo_hits_total", l2_hit).await;
        assert!(Instant::now() < deadline, "B never read product 9 from the L2");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(b.queries().await - b_before <= 1.0, "B loads at most once (if it asked before A's write landed)");

    assert_eq!(a.put("/products/9", r#"{"price_cents": 3}"#).await.0, 204);
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let (_, from_b) = b.get("/products/9").await;
        if from_b.contains("\"price_cents\":3") {
            break;
        }
        assert!(Instant::now() < deadline, "B still serves the old price: {from_b}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn with_database_url_it_seeds_and_serves_postgresql() {
    let postgres = PostgresServer::start();
    let dir = catalog::temp_dir("postgres");
    let service = Service::start(&dir, &[("DATABASE_URL", &postgres.url())]).await;
    let (status, product) = service.get("/products/5").await;
    assert_eq!(status, 200, "{product}");
    let (status, found) = service.get("/search?q=lamp").await;
    assert!(status == 200 && found.starts_with('['), "{found}");
    assert_eq!(service.get("/users/3/recommendations").await.0, 200);
    assert_eq!(service.put("/products/5", r#"{"price_cents": 11}"#).await.0, 204);
    assert!(service.get("/products/5").await.1.contains("\"price_cents\":11"));
    assert!(!dir.join("catalog.sqlite3").exists(), "DATABASE_URL took precedence over the SQLite file");
    service.stop().await;
}
