//! The catalog example as a process: its binary, a running instance on a free port, and a
//! small HTTP client for it.

#![allow(dead_code, reason = "each test binary uses a part of these helpers")]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncBufReadExt, BufReader};

/// `target/<profile>/examples/catalog`, built by `cargo test` with the other examples, or
/// here when only some tests were asked for (`cargo test -p memo-tests --test catalog` builds no examples)
/// and the binary is missing or older than the example's sources.
pub fn binary() -> PathBuf {
    static BUILT: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let exe = std::env::current_exe().expect("the test's own path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps/<test>");
    let catalog = profile_dir.join("examples").join("catalog");
    let mut built = BUILT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if !*built && is_stale(&catalog) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "memo-catalog", "--example", "catalog"])
            .current_dir(workspace())
            .status()
            .expect("cargo build -p memo-catalog --example catalog");
        assert!(status.success(), "building the catalog example failed");
    }
    *built = true;
    catalog
}

/// The workspace's root: this package is its `tests` folder.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ in the workspace").to_path_buf()
}

/// Whether `binary` is missing or older than a source file of the example.
fn is_stale(binary: &Path) -> bool {
    let Ok(built) = std::fs::metadata(binary).and_then(|m| m.modified()) else { return true };
    let sources = workspace().join("examples").join("catalog");
    std::fs::read_dir(sources)
        .map(|files| {
            files.filter_map(Result::ok).any(|f| f.metadata().and_then(|m| m.modified()).is_ok_and(|t| t > built))
        })
        .unwrap_or(false)
}

/// A fresh directory for one test's database and files.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("memo-catalog-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Runs the catalog to completion with `args` and `env`.
pub fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(binary());
    command.args(args).env_remove("DATABASE_URL").env_remove("REDIS_URL").env_remove("MEMO_DISABLE");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("run the catalog")
}

/// A running catalog service, stopped on drop.
pub struct Service {
    child: tokio::process::Child,
    pub addr: SocketAddr,
}

impl Service {
    /// Starts the service on a free port with a small catalog in `dir` (seeded on first use).
    pub async fn start(dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut command = tokio::process::Command::new(binary());
        command
            .args(["--addr", "127.0.0.1:0", "--products", "2000"])
            .arg("--db")
            .arg(dir.join("catalog.sqlite3"))
            .env_remove("DATABASE_URL")
            .env_remove("REDIS_URL")
            .env_remove("MEMO_DISABLE")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            // Seeding progress and logs: not the test's business.
            .stderr(Stdio::null())
            .kill_on_drop(true);
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("start the catalog");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        tokio::time::timeout(Duration::from_secs(60), BufReader::new(stdout).read_line(&mut line))
            .await
            .expect("the catalog starts within 60 s")
            .expect("its first line");
        let addr = line.trim().strip_prefix("listening on http://").and_then(|a| a.parse().ok());
        Self { child, addr: addr.unwrap_or_else(|| panic!("unexpected first line {line:?}")) }
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        request(self.addr, Method::GET, path, "").await
    }

    pub async fn put(&self, path: &str, json: &str) -> (u16, String) {
        request(self.addr, Method::PUT, path, json).await
    }

    /// The sum of a metric's series whose labels contain `label`, from `/metrics`.
    pub async fn metric(&self, name: &str, label: &str) -> f64 {
        let (_, text) = self.get("/metrics").await;
        text.lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.rsplit_once(' '))
            .filter(|(series, _)| series.split('{').next() == Some(name) && series.contains(label))
            .filter_map(|(_, value)| value.parse::<f64>().ok())
            .sum()
    }

    /// Database queries so far.
    pub async fn queries(&self) -> f64 {
        self.metric("catalog_db_queries_total", "").await
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

async fn request(addr: SocketAddr, method: Method, path: &str, body: &str) -> (u16, String) {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect to the catalog");
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(connection);
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, "127.0.0.1")
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))
        .expect("a request");
    let response = sender.send_request(request).await.expect("a response");
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.expect("the body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}
