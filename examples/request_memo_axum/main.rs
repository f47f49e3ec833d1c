//! Request-scoped memoization in an axum service.
//!
//! A handler renders a user's page from two layers of functions, and each layer fetches the
//! same user from the "database". With `RequestMemoLayer`, `#[request_memo]` makes those
//! fetches run once per request; the same handler mounted without the layer runs them all.
//!
//! Run: `cargo run -p memo-example-axum --example request_memo_axum` (serves on a loopback port, sends a few
//! requests, prints the responses and exits), or add `-- --serve` to keep serving on
//! 127.0.0.1:3000.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use memo_runtime::{RequestMemoLayer, request_memo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

static QUERIES: AtomicU64 = AtomicU64::new(0);

#[derive(Clone, Debug)]
struct User {
    id: u64,
    name: String,
    plan: &'static str,
}

/// The "database": 10 ms per query.
#[request_memo]
async fn fetch_user(id: u64) -> Result<User, String> {
    QUERIES.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(User { id, name: format!("user {id}"), plan: if id.is_multiple_of(2) { "pro" } else { "free" } })
}

/// First layer: the page header needs the user's name.
async fn header(id: u64) -> Result<String, String> {
    Ok(format!("Welcome, {}", fetch_user(id).await?.name))
}

/// Second layer: the sidebar needs the plan and, for its links, the user again.
async fn sidebar(id: u64) -> Result<String, String> {
    let plan = fetch_user(id).await?.plan;
    let user = fetch_user(id).await?;
    Ok(format!("plan {plan}, profile /users/{}", user.id))
}

async fn page(Path(id): Path<u64>) -> String {
    let before = QUERIES.load(Ordering::SeqCst);
    let header = header(id).await.unwrap_or_else(|e| e);
    let sidebar = sidebar(id).await.unwrap_or_else(|e| e);
    let footer = fetch_user(id).await.map(|u| format!("{} since 2026", u.name)).unwrap_or_else(|e| e);
    let queries = QUERIES.load(Ordering::SeqCst) - before;
    format!("{header} | {sidebar} | {footer} | database queries for this request: {queries} (fetch_user calls: 4)\n")
}

fn app() -> Router {
    let memoized = Router::new().route("/users/{id}", get(page)).layer(RequestMemoLayer::new().max_entries(10_000));
    let plain = Router::new().route("/plain/users/{id}", get(page));
    memoized.merge(plain)
}

async fn get_body(addr: std::net::SocketAddr, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    Ok(response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or(response))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    if std::env::args().any(|a| a == "--serve") {
        let listener = TcpListener::bind("127.0.0.1:3000").await?;
        println!("serving on http://127.0.0.1:3000/users/7 (memoized) and /plain/users/7 (not)");
        return axum::serve(listener, app()).await;
    }
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app()).await });
    for path in ["/users/7", "/users/7", "/users/8", "/plain/users/7"] {
        print!("GET {path:<15} -> {}", get_body(addr, path).await?);
    }
    println!("\nwith RequestMemoLayer each request queries once; /plain runs every fetch_user call.");
    server.abort();
    Ok(())
}
