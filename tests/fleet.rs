//! One load per key across the fleet: `#[cached(distributed, fleet_single_flight)]` in four
//! separate OS processes (this program started again as "nodes") sharing one real
//! `redis-server`, beside the same function with per-process single-flight only.
//!
//! ```text
//! cargo test -p memo-tests --test fleet
//! ```
//!
//! Loads are counted by the nodes (each prints a line when a body starts); time enters only
//! where the claim is about time, with bounds derived from the configured load time, lock
//! expiry and L2 timeout.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use memo_runtime::{Memo, cached};
use support::redis_server::RedisServer;

/// How long the fleet lock lasts (`lock_ttl` below).
const LOCK_TTL: Duration = Duration::from_secs(2);
/// The nodes' L2 timeout.
const L2_TIMEOUT: Duration = Duration::from_millis(100);
/// A load's duration in the nodes, unless a scenario says otherwise.
const LOAD: Duration = Duration::from_millis(300);
/// Room for the scheduler of a busy machine (four processes on two cores) on top of a bound.
const SLACK: Duration = Duration::from_millis(500);
/// The longest wait for a node's line.
const LINE_LIMIT: Duration = Duration::from_secs(60);

static LOADS: AtomicU64 = AtomicU64::new(0);
static LOAD_MS: AtomicU64 = AtomicU64::new(0);

async fn body(key: u64) -> u64 {
    LOADS.fetch_add(1, Ordering::SeqCst);
    println!("loading {key}");
    tokio::time::sleep(Duration::from_millis(LOAD_MS.load(Ordering::SeqCst))).await;
    key.wrapping_add(1)
}

#[cached(ttl = "10m", distributed, fleet_single_flight, lock_ttl = "2s", name = "fleet::with_lock")]
async fn with_lock(key: u64) -> u64 {
    body(key).await
}

#[cached(ttl = "10m", distributed, name = "fleet::per_process")]
async fn per_process(key: u64) -> u64 {
    body(key).await
}

fn main() -> ExitCode {
    if std::env::var("MEMO_FLEET_NODE").is_ok() {
        return node();
    }
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let scenarios: [(&str, fn()); 4] = [
        ("one_cold_key_is_loaded_once_by_four_processes", one_cold_key),
        ("a_hundred_cold_keys_are_loaded_once_each_in_about_one_load_time", hundred_keys),
        ("when_the_lock_holder_is_killed_a_waiter_loads_after_the_lock_expires", holder_killed),
        ("with_redis_down_each_process_loads_once_without_waiting", redis_down),
    ];
    let (mut passed, mut failed) = (0, 0);
    for (name, run) in scenarios {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        println!("\n== {name}");
        if std::panic::catch_unwind(run).is_ok() {
            println!("test {name} ... ok");
            passed += 1;
        } else {
            println!("test {name} ... FAILED");
            failed += 1;
        }
    }
    support::harness::summary(passed, failed)
}

/// One node: another process running the cached functions, driven through its stdin.
struct Node {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

/// What a node reported for one `run`.
#[derive(Debug)]
struct Run {
    loads: u64,
    wall: Duration,
    slowest: Duration,
}

impl Node {
    /// Starts a node on `server` whose loads take `load`, and waits until it is on the
    /// backplane; returns it with its L2 round trip.
    fn start(server: &RedisServer, load: Duration) -> (Self, Duration) {
        let mut child = Command::new(std::env::current_exe().expect("this program"))
            .env("MEMO_FLEET_NODE", server.url())
            .env("MEMO_FLEET_LOAD_MS", load.as_millis().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start a node");
        let stdin = child.stdin.take().expect("the node's stdin");
        let stdout = BufReader::new(child.stdout.take().expect("the node's stdout"));
        let (send, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut node = Self { child, stdin, lines };
        let ready = node.line_starting("ready ");
        let rtt = Duration::from_micros(field(&ready, "rtt_us"));
        (node, rtt)
    }

    /// Asks for `callers` concurrent calls on each of `keys` keys from `first` on, of the
    /// function with the fleet lock or without it.
    fn send_run(&mut self, locked: bool, first: u64, keys: u64, callers: u64) {
        let which = if locked { "with_lock" } else { "per_process" };
        writeln!(self.stdin, "run {which} {first} {keys} {callers}").expect("write to the node");
    }

    fn finished(&mut self) -> Run {
        let done = self.line_starting("done ");
        Run {
            loads: field(&done, "loads"),
            wall: Duration::from_millis(field(&done, "wall_ms")),
            slowest: Duration::from_millis(field(&done, "slowest_ms")),
        }
    }

    /// The next line that starts with `prefix`, skipping the others.
    fn line_starting(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + LINE_LIMIT;
        loop {
            match self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => panic!("no `{prefix}` line from the node within {LINE_LIMIT:?}"),
                Err(RecvTimeoutError::Disconnected) => panic!("the node ended before a `{prefix}` line"),
            }
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The number after `name=` in a line.
fn field(line: &str, name: &str) -> u64 {
    line.split(' ')
        .find_map(|part| part.strip_prefix(name)?.strip_prefix('='))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no `{name}` in {line:?}"))
}

fn nodes(server: &RedisServer, count: usize, load: Duration) -> (Vec<Node>, Duration) {
    let started: Vec<(Node, Duration)> = (0..count).map(|_| Node::start(server, load)).collect();
    let rtt = started.iter().map(|(_, rtt)| *rtt).max().unwrap_or_default();
    (started.into_iter().map(|(node, _)| node).collect(), rtt)
}

/// Runs the same calls in every node at once.
fn run_everywhere(nodes: &mut [Node], locked: bool, first: u64, keys: u64, callers: u64) -> Vec<Run> {
    for node in nodes.iter_mut() {
        node.send_run(locked, first, keys, callers);
    }
    nodes.iter_mut().map(Node::finished).collect()
}

fn report(what: &str, runs: &[Run]) -> u64 {
    let loads = runs.iter().map(|r| r.loads).sum();
    let wall = runs.iter().map(|r| r.wall).max().unwrap_or_default();
    println!("   {what}: {loads} loads in the fleet, slowest process {} ms", wall.as_millis());
    loads
}

fn one_cold_key() {
    let server = RedisServer::start();
    let (mut nodes, _) = nodes(&server, 4, LOAD);
    let per_process = report("per-process single-flight", &run_everywhere(&mut nodes, false, 1, 1, 250));
    let fleet = report("fleet single-flight", &run_everywhere(&mut nodes, true, 1, 1, 250));
    assert_eq!(fleet, 1, "4 processes x 250 callers on one cold key: one load in the fleet");
    assert!((1..=4).contains(&per_process), "per-process single-flight: at most one load per process, {per_process}");
}

fn hundred_keys() {
    // A longer load than elsewhere: the bound is a ratio, and four processes on a busy
    // machine need the same room in absolute time whatever the load.
    const LOAD: Duration = Duration::from_secs(1);
    let server = RedisServer::start();
    let (mut nodes, rtt) = nodes(&server, 4, LOAD);
    let per_process = report("per-process single-flight", &run_everywhere(&mut nodes, false, 1_000, 100, 10));
    // Another instance's stored value does not make this one's waiting callers load again.
    assert!(per_process <= 400, "per-process single-flight: at most one load per key and process, {per_process}");
    let runs = run_everywhere(&mut nodes, true, 1_000, 100, 10);
    let loads = report("fleet single-flight", &runs);
    assert_eq!(loads, 100, "4 processes x (100 cold keys x 10 callers): one load per key");
    let bound = (LOAD + rtt).mul_f64(1.5);
    let wall = runs.iter().map(|r| r.wall).max().unwrap_or_default();
    println!(
        "   bound: 1.5 x (one load {} ms + one L2 round trip {} us) = {} ms",
        LOAD.as_millis(),
        rtt.as_micros(),
        bound.as_millis()
    );
    assert!(wall <= bound, "the slowest process took {wall:?}, over {bound:?}");
}

fn holder_killed() {
    let server = RedisServer::start();
    // The holder's load never ends before it is killed; the others' take the usual time.
    let (mut holder, _) = Node::start(&server, Duration::from_secs(600));
    let (mut waiters, _) = nodes(&server, 3, LOAD);
    holder.send_run(true, 7, 1, 1);
    holder.line_starting("loading 7");
    for node in &mut waiters {
        node.send_run(true, 7, 1, 250);
    }
    // Whether the waiters found the lock before or after this, it is held until it expires.
    holder.kill();
    let runs: Vec<Run> = waiters.iter_mut().map(Node::finished).collect();
    let loads = 1 + report("after the holder died", &runs);
    assert_eq!(loads, 2, "the dead holder's load and one more");
    let slowest = runs.iter().map(|r| r.slowest).max().unwrap_or_default();
    let bound = LOCK_TTL + LOAD + SLACK;
    println!(
        "   slowest call {} ms; bound: lock expiry + one load + slack = {} ms",
        slowest.as_millis(),
        bound.as_millis()
    );
    assert!(slowest <= bound, "a caller waited {slowest:?}, over {bound:?}");
}

fn redis_down() {
    let mut server = RedisServer::start();
    let (mut nodes, _) = nodes(&server, 4, LOAD);
    server.kill();
    let runs = run_everywhere(&mut nodes, true, 50, 1, 250);
    let loads = report("Redis down", &runs);
    assert_eq!(loads, 4, "per-process single-flight: one load per process");
    let slowest = runs.iter().map(|r| r.slowest).max().unwrap_or_default();
    // A lock that cannot be asked for costs at most the reads' and the lock's L2 timeouts.
    let bound = LOAD + 3 * L2_TIMEOUT + SLACK;
    println!(
        "   slowest call {} ms; bound: one load + 3 L2 timeouts + slack = {} ms",
        slowest.as_millis(),
        bound.as_millis()
    );
    assert!(slowest <= bound, "a caller waited {slowest:?}, over {bound:?}");
}

/// A node: installs the L2, joins the backplane, then runs what its stdin asks.
fn node() -> ExitCode {
    let url = std::env::var("MEMO_FLEET_NODE").unwrap_or_default();
    let load_ms = std::env::var("MEMO_FLEET_LOAD_MS").ok().and_then(|ms| ms.parse().ok()).unwrap_or(0);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async move {
        Memo::builder().redis(url).namespace("fleet").l2_timeout(L2_TIMEOUT).install().expect("install the L2");
        // Both caches on the backplane (a key of this process's own), and the subscription up.
        let own = u64::MAX - u64::from(std::process::id());
        with_lock(own).await;
        per_process(own).await;
        LOAD_MS.store(load_ms, Ordering::SeqCst);
        let l2 = memo_runtime::memo::installed_l2().expect("installed");
        let deadline = Instant::now() + LINE_LIMIT;
        while !l2.is_subscribed() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let probe = Instant::now();
        l2.get("fleet:round-trip-probe").await;
        println!("ready rtt_us={}", probe.elapsed().as_micros());
        let (send, mut lines) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in std::io::stdin().lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        while let Some(line) = lines.recv().await {
            let parts: Vec<&str> = line.split(' ').collect();
            let [_, which, first, keys, callers] = parts[..] else { continue };
            let number = |text: &str| text.parse::<u64>().unwrap_or(0);
            let (locked, first, keys, callers) = (which == "with_lock", number(first), number(keys), number(callers));
            let loads_before = LOADS.load(Ordering::SeqCst);
            let started = Instant::now();
            let calls: Vec<_> = (first..first + keys)
                .flat_map(|key| (0..callers).map(move |_| key))
                .map(|key| {
                    tokio::spawn(async move {
                        let called = Instant::now();
                        let value = if locked { with_lock(key).await } else { per_process(key).await };
                        assert_eq!(value, key.wrapping_add(1));
                        called.elapsed()
                    })
                })
                .collect();
            let mut slowest = Duration::ZERO;
            for call in calls {
                slowest = slowest.max(call.await.expect("a call"));
            }
            println!(
                "done loads={} wall_ms={} slowest_ms={}",
                LOADS.load(Ordering::SeqCst) - loads_before,
                started.elapsed().as_millis(),
                slowest.as_millis()
            );
        }
    });
    ExitCode::SUCCESS
}
