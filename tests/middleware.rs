//! `RequestMemoLayer` through a real HTTP stack: an axum `Router` served on a loopback socket
//! and driven by 1,000 concurrent requests, `Cache-Control: no-cache` honoured when asked, and a
//! plain tower `ServiceBuilder` with `oneshot`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use memo_runtime::scope;
use memo_runtime::{RequestMemoLayer, cached, request_memo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Body runs per user id.
static RUNS: Mutex<Option<HashMap<u64, u32>>> = Mutex::new(None);

fn record_run(id: u64) {
    *RUNS.lock().unwrap().get_or_insert_with(HashMap::new).entry(id).or_default() += 1;
}

fn runs_of(id: u64) -> u32 {
    RUNS.lock().unwrap().as_ref().and_then(|m| m.get(&id).copied()).unwrap_or(0)
}

#[derive(Clone)]
struct User {
    id: u64,
    name: String,
}

#[request_memo]
async fn load_user(id: u64) -> Result<User, String> {
    record_run(id);
    tokio::time::sleep(Duration::from_millis(2)).await;
    Ok(User { id, name: format!("user-{id}") })
}

#[request_memo]
async fn load_roles(id: u64) -> Vec<String> {
    let user = load_user(id).await.unwrap_or_else(|_| User { id, name: String::new() });
    vec![format!("reader:{}", user.name)]
}

/// Calls the memoized functions several times, from two layers, like a real handler.
async fn profile(Path(id): Path<u64>) -> String {
    let header = load_user(id).await.map(|u| u.name).unwrap_or_default();
    let roles = load_roles(id).await;
    let again = load_user(id).await.map(|u| u.id).unwrap_or_default();
    let roles_again = load_roles(id).await;
    let entries = scope::current().map_or(0, |s| s.len());
    format!("{header} {again} {} {} entries={entries}", roles.join(","), roles_again.len())
}

async fn get_over_tcp(addr: std::net::SocketAddr, path: &str) -> String {
    get_with_headers(addr, path, "").await
}

/// A GET with extra header lines (each ending in CRLF).
async fn get_with_headers(addr: std::net::SocketAddr, path: &str, headers: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("http response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_requests_each_see_only_their_own_memo() {
    let app = Router::new().route("/users/{id}", get(profile)).layer(RequestMemoLayer::new());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let live_before = scope::live();

    let requests: Vec<_> = (1..=1_000u64)
        .map(|id| tokio::spawn(async move { (id, get_over_tcp(addr, &format!("/users/{id}")).await) }))
        .collect();
    for request in requests {
        let (id, body) = request.await.expect("request task");
        assert_eq!(body, format!("user-{id} {id} reader:user-{id} 1 entries=2"), "request {id} saw another's values");
    }
    for id in 1..=1_000 {
        assert_eq!(runs_of(id), 1, "user {id}: the body runs once per request");
    }

    // Nothing survives a request: the same user again runs the body again.
    get_over_tcp(addr, "/users/7").await;
    assert_eq!(runs_of(7), 2);
    tokio::time::timeout(Duration::from_secs(5), async {
        while scope::live() > live_before {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("every request's scope is dropped");
    server.abort();
}

#[cached(ttl = "1h")]
async fn price(id: u64) -> String {
    record_run(2_000_000 + id);
    format!("price of {id}: {}", runs_of(2_000_000 + id))
}

#[cached(ttl = "1h")]
async fn stock(id: u64) -> String {
    record_run(3_000_000 + id);
    format!("stock of {id}")
}

/// A handler with two cached calls.
async fn priced(Path(id): Path<u64>) -> String {
    stock(id).await;
    price(id).await
}

/// Serves `app` on a loopback port.
async fn serve(app: Router) -> (std::net::SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    (addr, tokio::spawn(async move { axum::serve(listener, app).await }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_cache_requests_bypass_the_caches_only_where_the_layer_says_so() {
    const NO_CACHE: &str = "Cache-Control: max-age=0, no-cache\r\n";
    let honouring = Router::new().route("/price/{id}", get(priced)).layer(RequestMemoLayer::new().bypass_on_no_cache());
    let (addr, server) = serve(honouring).await;
    assert_eq!(get_over_tcp(addr, "/price/1").await, "price of 1: 1");
    assert_eq!(get_over_tcp(addr, "/price/1").await, "price of 1: 1", "a hit");
    assert_eq!(get_with_headers(addr, "/price/1", NO_CACHE).await, "price of 1: 2", "loaded again");
    assert_eq!(runs_of(3_000_001), 2, "every cached call of the request bypassed the caches");
    assert_eq!(get_over_tcp(addr, "/price/1").await, "price of 1: 2", "what it loaded was stored");
    assert_eq!(runs_of(2_000_001), 2);
    server.abort();

    // Off by default: the header changes nothing.
    let (addr, server) = serve(Router::new().route("/price/{id}", get(priced)).layer(RequestMemoLayer::new())).await;
    assert_eq!(get_with_headers(addr, "/price/1", NO_CACHE).await, "price of 1: 2");
    assert_eq!((runs_of(2_000_001), runs_of(3_000_001)), (2, 2), "answered from the caches");
    server.abort();
}

#[request_memo]
fn lookup(id: u64) -> u64 {
    record_run(1_000_000 + id);
    id * 2
}

#[tokio::test]
async fn service_builder_and_oneshot() {
    use tower::{ServiceBuilder, ServiceExt};

    let service =
        ServiceBuilder::new().layer(RequestMemoLayer::new().max_entries(10)).service_fn(|id: u64| async move {
            let first = lookup(id);
            let second = lookup(id);
            let len = scope::current().map(|s| s.len());
            Ok::<_, std::convert::Infallible>((first + second, len))
        });
    assert_eq!(service.clone().oneshot(21).await.unwrap(), (84, Some(1)));
    assert_eq!(runs_of(1_000_021), 1);
    assert_eq!(service.oneshot(21).await.unwrap(), (84, Some(1)));
    assert_eq!(runs_of(1_000_021), 2, "each call of the service is its own request");
}

#[test]
fn the_layer_and_service_expose_what_tower_http_does() {
    fn assert_clone_debug<T: Clone + std::fmt::Debug>() {}
    assert_clone_debug::<RequestMemoLayer>();
    assert_clone_debug::<RequestMemoLayer<memo_runtime::NoCacheBypass>>();
    assert_clone_debug::<memo_runtime::RequestMemo<(), memo_runtime::NoCacheBypass>>();
    assert_clone_debug::<memo_runtime::RequestMemo<()>>();
    let mut service = memo_runtime::RequestMemo::new(5u8);
    assert_eq!(*service.get_ref(), 5);
    *service.get_mut() = 6;
    assert_eq!(service.into_inner(), 6);
}
