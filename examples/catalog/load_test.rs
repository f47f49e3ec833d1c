//! `--load-test`: runs the service as a child process twice, with caching off
//! (`MEMO_DISABLE=1`) and on, drives each over HTTP on loopback with the same Zipf workload,
//! and compares them: throughput, latency, database queries (read from the service's own
//! `/metrics`) and the hit ratio of each cache layer.
//!
//! Each run sends a fixed number of requests: every connection draws its own fixed seeded
//! sequence, so the keys asked for, and so the database queries per request, do not depend on
//! how fast the machine is; only the per-second figures do.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::Options;
use crate::db::{ADJECTIVES, CATEGORIES, MATERIALS, NOUNS, USERS};
use crate::zipf::{Rng, Zipf};

/// One run's measurements.
#[derive(Debug, Default)]
pub struct Run {
    pub requests: u64,
    pub errors: u64,
    pub seconds: f64,
    /// Sorted, microseconds.
    pub latencies_us: Vec<u32>,
    /// Requests completed in each second.
    pub per_second: Vec<u64>,
    /// Database queries in each second (from the service's counter).
    pub db_per_second: Vec<f64>,
    pub db_queries: f64,
    pub layers: Layers,
    /// Per cache: (name, calls, hits, loads).
    pub caches: Vec<(String, f64, f64, f64)>,
}

/// Calls answered by each layer, over every cache of the service.
#[derive(Debug, Default, Clone, Copy)]
pub struct Layers {
    pub request: f64,
    pub l1: f64,
    pub l2: f64,
    pub misses: f64,
}

impl Run {
    fn percentile(&self, p: f64) -> f64 {
        let n = self.latencies_us.len();
        if n == 0 {
            return 0.0;
        }
        let i = ((n as f64 * p).ceil() as usize).clamp(1, n) - 1;
        f64::from(self.latencies_us[i]) / 1_000.0
    }

    fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    fn queries_per_request(&self) -> f64 {
        self.db_queries / (self.requests.max(1) as f64)
    }
}

pub async fn run(options: &Options) -> Result<(), String> {
    // Seed here, so that neither run pays for it.
    let db = crate::open_database(options).await?;
    let products = db.product_count().await.map_err(|e| e.to_string())?;
    drop(db);
    let store =
        if std::env::var("DATABASE_URL").is_ok_and(|u| !u.trim().is_empty()) { "DATABASE_URL" } else { "SQLite" };
    let l2 = if std::env::var("REDIS_URL").is_ok() { "Redis L2" } else { "in-process" };
    let baseline = options.baseline_requests.unwrap_or(options.requests / 10).max(1);
    println!(
        "catalog load test: {products} products ({store}, {l2}), Zipf s={}, {} connections, {baseline} requests with caching off, {} with caching on",
        options.zipf, options.concurrency, options.requests
    );
    let off = drive(options, false, products, baseline).await?;
    let on = drive(options, true, products, options.requests).await?;
    print!("{}", table(&off, &on));
    crate::plot::write(&options.plot, &off, &on, options)?;
    println!("plot: {}", options.plot.display());
    let reduction = 100.0 * (1.0 - on.queries_per_request() / off.queries_per_request().max(f64::MIN_POSITIVE));
    if let Some(required) = options.check_reduction
        && reduction < required
    {
        return Err(format!("caching cut database queries per request by {reduction:.1}%, less than {required}%"));
    }
    Ok(())
}

/// The comparison table.
pub fn table(off: &Run, on: &Run) -> String {
    let ratio = |l: f64, r: &Run| {
        let calls = r.layers.request + r.layers.l1 + r.layers.l2 + r.layers.misses;
        if calls == 0.0 { "-".to_owned() } else { format!("{:.1}%", 100.0 * l / calls) }
    };
    let qpr = |r: &Run| r.queries_per_request();
    let mut t = String::new();
    let mut row = |name: &str, a: String, b: String, note: String| {
        let line = format!("{name:<30}{a:>14}{b:>14}  {note}");
        t.push_str(line.trim_end());
        t.push('\n');
    };
    row("", "caching off".into(), "caching on".into(), String::new());
    row(
        "requests/s",
        format!("{:.0}", off.rate()),
        format!("{:.0}", on.rate()),
        format!("{:.1}x", on.rate() / off.rate().max(1e-9)),
    );
    row(
        "latency p50",
        format!("{:.2} ms", off.percentile(0.50)),
        format!("{:.2} ms", on.percentile(0.50)),
        String::new(),
    );
    row(
        "latency p99",
        format!("{:.2} ms", off.percentile(0.99)),
        format!("{:.2} ms", on.percentile(0.99)),
        String::new(),
    );
    row(
        "database queries/s",
        format!("{:.0}", off.db_queries / off.seconds),
        format!("{:.0}", on.db_queries / on.seconds),
        String::new(),
    );
    row(
        "database queries per request",
        format!("{:.3}", qpr(off)),
        format!("{:.3}", qpr(on)),
        format!("{:+.1}%", 100.0 * (qpr(on) / qpr(off).max(f64::MIN_POSITIVE) - 1.0)),
    );
    row("hit ratio: request memo", ratio(off.layers.request, off), ratio(on.layers.request, on), String::new());
    row("hit ratio: L1 (in-process)", ratio(off.layers.l1, off), ratio(on.layers.l1, on), String::new());
    row("hit ratio: L2 (Redis)", ratio(off.layers.l2, off), ratio(on.layers.l2, on), String::new());
    row("errors", off.errors.to_string(), on.errors.to_string(), String::new());
    t.push_str("\ncaching on, by cache:                calls         loads    hit ratio\n");
    for (name, calls, hits, loads) in &on.caches {
        let hit = if *calls > 0.0 { 100.0 * hits / calls } else { 0.0 };
        t.push_str(&format!("  {name:<30}{calls:>12.0}{loads:>14.0}{hit:>12.1}%\n"));
    }
    t
}

/// Starts the service, sends it `requests` requests, reads its counters, stops it.
async fn drive(options: &Options, caching: bool, products: i64, requests: u64) -> Result<Run, String> {
    let (mut child, addr) = start_service(options, caching).await?;
    eprintln!("caching {}: {requests} requests to {addr} ...", if caching { "on" } else { "off" });
    let started = Instant::now();
    let done = std::sync::Arc::new(tokio::sync::Notify::new());
    let sampler = tokio::spawn(sample_queries(addr, started, std::sync::Arc::clone(&done)));
    let connections = options.concurrency as u64;
    let workers: Vec<_> = (0..connections)
        .map(|i| {
            // Connection i sends its share of the requests, drawn from the sequence seeded i + 1.
            let share = requests / connections + u64::from(i < requests % connections);
            tokio::spawn(worker(addr, Workload::new(products, options.zipf), i + 1, started, share))
        })
        .collect();
    let mut run = Run::default();
    let mut done_at = Vec::new();
    for w in workers {
        let result = w.await.map_err(|e| e.to_string())??;
        run.errors += result.errors;
        for (at_ms, us) in result.samples {
            run.requests += 1;
            run.latencies_us.push(us);
            done_at.push(at_ms);
        }
    }
    run.seconds = started.elapsed().as_secs_f64();
    done.notify_one();
    let mut per_second = vec![0u64; run.seconds.ceil() as usize];
    for at_ms in done_at {
        if let Some(slot) = per_second.get_mut((at_ms / 1_000) as usize) {
            *slot += 1;
        }
    }
    run.per_second = per_second;
    run.latencies_us.sort_unstable();
    run.db_per_second = sampler.await.map_err(|e| e.to_string())?;
    run.db_per_second.truncate(run.per_second.len());
    let metrics = scrape(addr).await?;
    run.db_queries = sum(&metrics, "catalog_db_queries_total", "");
    run.layers = Layers {
        request: sum(&metrics, "memo_hits_total", "layer=\"request\""),
        l1: sum(&metrics, "memo_hits_total", "layer=\"l1\""),
        l2: sum(&metrics, "memo_hits_total", "layer=\"l2\""),
        misses: sum(&metrics, "memo_misses_total", ""),
    };
    run.caches = per_cache(&metrics);
    let _ = child.kill().await;
    Ok(run)
}

/// Runs this program as the service on a free port and waits for it to say where it listens.
async fn start_service(options: &Options, caching: bool) -> Result<(Child, SocketAddr), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let namespace = format!("{}-load-{}-{}", options.namespace, std::process::id(), caching);
    let mut child = Command::new(exe)
        .args(["--addr", "127.0.0.1:0", "--namespace", &namespace, "--products", &options.products.to_string()])
        .arg("--db")
        .arg(&options.db_path)
        .env("MEMO_DISABLE", if caching { "0" } else { "1" })
        .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start the service: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout from the service")?;
    let mut line = String::new();
    let read = tokio::time::timeout(Duration::from_secs(120), BufReader::new(stdout).read_line(&mut line)).await;
    let addr = match read {
        Ok(Ok(_)) => line.trim().strip_prefix("listening on http://").and_then(|a| a.parse().ok()),
        _ => None,
    };
    match addr {
        Some(addr) => Ok((child, addr)),
        None => {
            let status = child.wait().await.map(|s| s.to_string()).unwrap_or_default();
            Err(format!("the service did not start ({status})"))
        }
    }
}

/// What one connection sends: product pages, category pages, searches, recommendations and a
/// few price changes, each key drawn from a Zipf distribution.
struct Workload {
    products: Zipf,
    categories: Zipf,
    pages: Zipf,
    users: Zipf,
    terms: Vec<String>,
    term_rank: Zipf,
}

impl Workload {
    fn new(products: i64, s: f64) -> Self {
        let mut terms: Vec<String> =
            NOUNS.iter().chain(&MATERIALS).chain(&ADJECTIVES).map(|w| (*w).to_owned()).collect();
        terms.extend(MATERIALS.iter().flat_map(|m| NOUNS.iter().map(move |n| format!("{m} {n}"))));
        Self {
            products: Zipf::new(products as u64, s),
            categories: Zipf::new(CATEGORIES as u64, s),
            pages: Zipf::new(10, s),
            users: Zipf::new(USERS as u64, s),
            term_rank: Zipf::new(terms.len() as u64, s),
            terms,
        }
    }

    fn next(&self, rng: &mut Rng) -> (Method, String, Bytes) {
        let pick = rng.unit();
        if pick < 0.55 {
            (Method::GET, format!("/products/{}", self.products.sample(rng)), Bytes::new())
        } else if pick < 0.70 {
            let (c, p) = (self.categories.sample(rng), self.pages.sample(rng) - 1);
            (Method::GET, format!("/categories/{c}/products?page={p}"), Bytes::new())
        } else if pick < 0.80 {
            let term = &self.terms[(self.term_rank.sample(rng) - 1) as usize];
            (Method::GET, format!("/search?q={}", term.replace(' ', "+")), Bytes::new())
        } else if pick < 0.98 {
            (Method::GET, format!("/users/{}/recommendations", self.users.sample(rng)), Bytes::new())
        } else {
            let body = format!("{{\"price_cents\": {}}}", 100 + rng.below(50_000));
            (Method::PUT, format!("/products/{}", self.products.sample(rng)), Bytes::from(body))
        }
    }
}

#[derive(Debug, Default)]
struct WorkerResult {
    /// (milliseconds since the start, latency in microseconds) per completed request.
    samples: Vec<(u32, u32)>,
    errors: u64,
}

async fn worker(
    addr: SocketAddr,
    load: Workload,
    seed: u64,
    started: Instant,
    requests: u64,
) -> Result<WorkerResult, String> {
    let mut rng = Rng::new(seed);
    let mut sender = connect(addr).await?;
    let mut result = WorkerResult::default();
    for _ in 0..requests {
        let (method, path, body) = load.next(&mut rng);
        let sent = Instant::now();
        match send(&mut sender, method, &path, body).await {
            Ok((status, _)) if status < 500 => {
                let at = sent.duration_since(started).as_millis() as u32;
                result.samples.push((at, sent.elapsed().as_micros() as u32));
            }
            Ok(_) => result.errors += 1,
            Err(_) => {
                result.errors += 1;
                sender = connect(addr).await?;
            }
        }
    }
    Ok(result)
}

/// The service's query counter once a second, until `done` and then once more: queries per
/// second.
async fn sample_queries(addr: SocketAddr, started: Instant, done: std::sync::Arc<tokio::sync::Notify>) -> Vec<f64> {
    let mut per_second = Vec::new();
    let mut last = 0.0;
    let mut tick = tokio::time::interval_at((started + Duration::from_secs(1)).into(), Duration::from_secs(1));
    let finished = done.notified();
    let mut finished = std::pin::pin!(finished);
    loop {
        // Each second, and once more when the run ends.
        let last_sample = tokio::select! {
            _ = tick.tick() => false,
            () = finished.as_mut() => true,
        };
        let Ok(metrics) = scrape(addr).await else { break };
        let total = sum(&metrics, "catalog_db_queries_total", "");
        per_second.push(total - last);
        last = total;
        if last_sample {
            break;
        }
    }
    per_second
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    Ok(sender)
}

async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    method: Method,
    path: &str,
    body: Bytes,
) -> Result<(u16, Bytes), String> {
    sender.ready().await.map_err(|e| e.to_string())?;
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, "127.0.0.1")
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(body))
        .map_err(|e| e.to_string())?;
    let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok((status, body))
}

/// The service's `/metrics` text.
pub async fn scrape(addr: SocketAddr) -> Result<String, String> {
    let mut sender = connect(addr).await?;
    let (_, body) = send(&mut sender, Method::GET, "/metrics", Bytes::new()).await?;
    String::from_utf8(body.to_vec()).map_err(|e| e.to_string())
}

/// Calls, hits and loads of each cache, busiest first.
fn per_cache(metrics: &str) -> Vec<(String, f64, f64, f64)> {
    let mut caches: Vec<_> = metrics
        .lines()
        .filter_map(|line| line.strip_prefix("memo_loads_total{cache=\""))
        .filter_map(|rest| rest.split_once('"'))
        .map(|(name, _)| {
            let label = format!("cache=\"{name}\"");
            let hits = sum(metrics, "memo_hits_total", &label);
            let calls = hits + sum(metrics, "memo_misses_total", &label);
            (name.to_owned(), calls, hits, sum(metrics, "memo_loads_total", &label))
        })
        .collect();
    caches.sort_by(|a, b| b.1.total_cmp(&a.1));
    caches
}

/// The sum of a Prometheus metric's samples whose labels contain `label` (`""`: all).
pub fn sum(text: &str, metric: &str, label: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' '))
        .filter(|(series, _)| {
            let name = series.split('{').next().unwrap_or_default();
            name == metric && series.contains(label)
        })
        .filter_map(|(_, value)| value.parse::<f64>().ok())
        .sum()
}
