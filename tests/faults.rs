//! Fault injection: the L2 under the faults a production Redis has, with real `redis-server`
//! processes killed, frozen, partitioned, failed over, filled up and fed bad data, while a
//! cached function is called at full speed.
//!
//! Every scenario runs in a process of its own (this program started again), so that its
//! memory figures are its own; a second instance, where one is needed, is a third process.
//! Each prints what it measured and the bounds it checked:
//!
//! ```text
//! cargo test -p memo-tests --release --test faults
//! cargo test -p memo-tests --release --test faults -- partition     # the scenarios whose name contains it
//! ```
//!
//! The loads count calls, not seconds; time enters only where the fault is a time (an outage
//! of 10 s), and bounds are derived from the L2's configuration (its timeout, its breaker's
//! threshold and cool-down, its in-flight limit).

mod support;

use std::fmt::Display;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use memo_runtime::l2::keys::{self, KeyBytes};
use memo_runtime::outcome::PlainShape;
use memo_runtime::{Cache, Load, Memo, RedisL2};
use support::proxy::Proxy;
use support::redis_server::{RedisCluster, RedisServer};

/// The L2 timeout every scenario configures (the default).
const L2_TIMEOUT: Duration = Duration::from_millis(50);
/// The L2 timeout of the scenario about malformed data: what it checks is how each read is
/// classified, which a read that a busy machine delays past 50 ms would hide as a timeout.
const CLASSIFY_TIMEOUT: Duration = Duration::from_secs(2);
/// Concurrent callers.
const TASKS: usize = 64;
/// The breaker's threshold (the default).
const THRESHOLD: u64 = 5;
const MAX_IN_FLIGHT: u64 = memo_runtime::l2::gate::MAX_IN_FLIGHT as u64;
const WRITE_TASKS: u64 = memo_runtime::l2::writes::WRITE_TASKS as u64;
/// How long one scenario may run before it counts as hung.
const SCENARIO_LIMIT: Duration = Duration::from_secs(180);
/// Room for the scheduler on a busy machine, on top of a bound that the code guarantees.
const SLACK: Duration = Duration::from_millis(100);

type Scenario = fn(&mut Report);

const SCENARIOS: &[(&str, &str, Scenario)] = &[
    ("dead-redis", "Redis SIGKILLed for 10 s under a miss-heavy load (64 tasks), then restarted", dead_redis),
    (
        "frozen-redis",
        "Redis frozen (SIGSTOP) for 5 s under the same load: connections stay open, nothing answers",
        frozen_redis,
    ),
    (
        "cluster-failover",
        "a Redis Cluster of 3 masters + 3 replicas under the same load; one master SIGKILLed, its replica takes over",
        cluster_failover,
    ),
    ("bad-data", "a 100 MB value and a hash planted at memo keys", bad_data),
    (
        "writes-refused",
        "Redis out of memory with `noeviction`: every write refused, reads still answered",
        writes_refused,
    ),
    (
        "partition",
        "one instance cut off from Redis for 10 s while it makes 100,000 invalidations; another instance keeps serving",
        partition,
    ),
];

fn main() -> ExitCode {
    if let Ok(role) = std::env::var("MEMO_FAULT_ROLE") {
        return match role.as_str() {
            "instance" => instance_process(),
            _ => ExitCode::FAILURE,
        };
    }
    if let Ok(name) = std::env::var("MEMO_FAULT_SCENARIO") {
        let Some((_, _, run)) = SCENARIOS.iter().find(|(n, _, _)| *n == name) else { return ExitCode::FAILURE };
        let mut report = Report::default();
        run(&mut report);
        return if report.failed { ExitCode::FAILURE } else { ExitCode::SUCCESS };
    }
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let (mut passed, mut failed) = (0, 0);
    for (name, what, _) in SCENARIOS {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        println!("\n== {name}: {what}");
        let started = Instant::now();
        let mut child = Command::new(std::env::current_exe().expect("this program"))
            .env("MEMO_FAULT_SCENARIO", name)
            .stdin(Stdio::null())
            .spawn()
            .expect("run the scenario");
        // A scenario that hangs is a failure, not a stuck CI run.
        let status = loop {
            if let Some(status) = child.try_wait().expect("the scenario's status") {
                break Some(status);
            }
            if started.elapsed() > SCENARIO_LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        println!("   ({:.1} s)", started.elapsed().as_secs_f64());
        let Some(status) = status else {
            println!("   FAILED: still running after {} s", SCENARIO_LIMIT.as_secs());
            failed += 1;
            continue;
        };
        if status.success() {
            passed += 1;
        } else {
            println!("   FAILED: {status}");
            failed += 1;
        }
    }
    support::harness::summary(passed, failed)
}

/// What a scenario measured and checked, printed as it goes.
#[derive(Default)]
struct Report {
    failed: bool,
}

impl Report {
    fn figure(&mut self, name: &str, value: impl Display) {
        println!("   {name:<58} {value}");
    }

    fn check(&mut self, ok: bool, what: impl Display) {
        println!("   {} {what}", if ok { "ok  " } else { "FAIL" });
        self.failed |= !ok;
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime")
}

/// This process's resident memory.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// The highest resident memory seen since the last reset, sampled every 10 ms.
struct Peak {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Peak {
    fn start() -> Self {
        let (peak, stop) = (Arc::new(AtomicU64::new(rss())), Arc::new(AtomicBool::new(false)));
        let (p, s) = (Arc::clone(&peak), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(rss(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        Self { peak, stop }
    }

    fn reset(&self) {
        self.peak.store(rss(), Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
}

impl Drop for Peak {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

type Item = Cache<u64, String>;

fn item_cache(name: &str, l2: Arc<RedisL2>) -> &'static Item {
    Box::leak(Box::new(Cache::builder().name(name).ttl(Duration::from_secs(600)).capacity(10_000).l2(l2).build()))
}

/// A value of about the size of a row: 200 bytes.
fn value_of(id: u64, tag: &str) -> String {
    format!("{id}@{tag}:{}", "x".repeat(180))
}

async fn get(cache: &'static Item, id: u64, tag: &'static str) -> String {
    cache
        .through_l2()
        .get_or_load_async(id, Load::new(PlainShape::<String>::default(), async move { value_of(id, tag) }))
        .await
}

/// `TASKS` tasks calling the cache as fast as they can, each call with a key never asked
/// before: every call misses, loads and goes to the L2.
struct MissLoad {
    calls: Arc<AtomicU64>,
    slowest_us: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl MissLoad {
    fn start(cache: &'static Item) -> Self {
        let next = Arc::new(AtomicU64::new(1_000_000));
        let (calls, slowest_us, stop) =
            (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
        let tasks = (0..TASKS)
            .map(|_| {
                let (next, calls, slowest_us, stop) =
                    (Arc::clone(&next), Arc::clone(&calls), Arc::clone(&slowest_us), Arc::clone(&stop));
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let id = next.fetch_add(1, Ordering::Relaxed);
                        let started = Instant::now();
                        get(cache, id, "load").await;
                        slowest_us.fetch_max(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                        calls.fetch_add(1, Ordering::Relaxed);
                        // A request handler awaits its socket between requests.
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        Self { calls, slowest_us, stop, tasks }
    }

    /// Calls made and the slowest call since the last phase.
    fn phase(&self) -> (u64, Duration) {
        let calls = self.calls.swap(0, Ordering::Relaxed);
        let slowest = Duration::from_micros(self.slowest_us.swap(0, Ordering::Relaxed));
        (calls, slowest)
    }

    /// Waits until `n` more calls were made.
    async fn calls(&self, n: u64) {
        let target = self.calls.load(Ordering::Relaxed) + n;
        while self.calls.load(Ordering::Relaxed) < target {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// A caller apart from the load, on a runtime of its own, calling once a millisecond with a
/// new key each time: how long its calls take is what the L2 costs a call, without the time a
/// saturated runtime makes a task wait for its turn.
struct Caller {
    slowest_us: Arc<AtomicU64>,
    calls: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Caller {
    fn start(cache: &'static Item) -> Self {
        let (slowest_us, calls, stop) =
            (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
        let (s, c, st) = (Arc::clone(&slowest_us), Arc::clone(&calls), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            runtime.block_on(async {
                let mut id = 1u64 << 40;
                while !st.load(Ordering::Relaxed) {
                    id += 1;
                    let started = Instant::now();
                    get(cache, id, "caller").await;
                    s.fetch_max(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                    c.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            });
        });
        Self { slowest_us, calls, stop, thread: Some(thread) }
    }

    /// Calls made and the slowest call since the last phase.
    fn phase(&self) -> (u64, Duration) {
        (self.calls.swap(0, Ordering::Relaxed), Duration::from_micros(self.slowest_us.swap(0, Ordering::Relaxed)))
    }
}

impl Drop for Caller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Waits for `condition` up to `bound`; how long it took, or `None`.
async fn wait_for(bound: Duration, mut condition: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    loop {
        if condition() {
            return Some(started.elapsed());
        }
        if started.elapsed() > bound {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn l2(url: &str, namespace: &str) -> Arc<RedisL2> {
    Memo::builder().redis(url).namespace(namespace).l2_timeout(L2_TIMEOUT).connect().expect("an L2 client")
}

/// Redis dies under load: memory stays bounded, no call waits longer than the L2 timeout, the
/// breaker lets through about its threshold of failing operations and then one probe per
/// cool-down, and the L2 is used again soon after Redis is back.
fn dead_redis(r: &mut Report) {
    let mut server = RedisServer::start();
    let peak = Peak::start();
    runtime().block_on(async {
        let l2 = l2(&server.url(), "dead");
        let cache = item_cache("faults::dead", Arc::clone(&l2));
        let load = MissLoad::start(cache);
        let caller = Caller::start(cache);
        load.calls(30_000).await; // L1 full: memory at its steady state
        let (warm_calls, _) = load.phase();
        let (_, warm_slowest) = caller.phase();
        let base = rss();
        peak.reset();
        r.figure("calls before the kill (warm-up)", warm_calls);
        r.figure("slowest call before the kill", ms(warm_slowest));
        let before = l2.stats();

        server.kill();
        let outage = Duration::from_secs(10);
        tokio::time::sleep(outage).await;
        let (outage_calls, _) = load.phase();
        let (_, outage_slowest) = caller.phase();
        let during = l2.stats();
        let failed = during.errors - before.errors;
        let probes = during.probes - before.probes;
        r.figure("calls while Redis was dead (10 s)", outage_calls);
        r.figure("slowest call while Redis was dead", ms(outage_slowest));
        r.figure("L2 operations that failed while Redis was dead", failed);
        r.figure("  of which probes of the open breaker", probes);
        r.figure("L2 operations skipped", during.skipped - before.skipped);
        r.figure("times the breaker opened", during.breaker_opened - before.breaker_opened);

        server.restart();
        let writes = l2.stats().writes;
        let resumed = wait_for(Duration::from_secs(30), || l2.stats().writes > writes).await;
        let (after_calls, _) = load.phase();
        drop(caller);
        load.stop().await;
        let growth = peak.get().saturating_sub(base);
        r.figure("resident memory at steady state", mib(base));
        r.figure("resident memory growth, outage and recovery", mib(growth));
        r.figure("calls after the restart", after_calls);
        match resumed {
            Some(t) => r.figure("L2 written again after the restart", ms(t)),
            None => r.figure("L2 written again after the restart", "not within 30 s"),
        }
        r.check(growth <= 64 << 20, "memory grows by at most 64 MiB");
        let bound = L2_TIMEOUT + SLACK;
        r.check(outage_slowest <= bound, format!("no call slower than the L2 timeout + {} ({})", ms(SLACK), ms(bound)));
        r.check(during.breaker_opened - before.breaker_opened == 1, "the breaker opened once");
        let cooldown = l2.breaker_cooldown();
        let probe_bound = outage.as_millis() as u64 / cooldown.as_millis() as u64 + 1;
        r.check(probes <= probe_bound, format!("at most one probe per {} cool-down ({probe_bound})", ms(cooldown)));
        // Those in flight when Redis died (callers' and background ones), and those that started
        // before the threshold's failures came back.
        let before_open = MAX_IN_FLIGHT + WRITE_TASKS + 1 + 2 * THRESHOLD;
        r.check(
            failed - probes <= before_open,
            format!(
                "at most {before_open} failing operations before it opened: those in flight, and twice the threshold"
            ),
        );
        let resume_bound = cooldown * 2 + Duration::from_secs(1);
        r.check(
            resumed.is_some_and(|t| t <= resume_bound),
            format!("the L2 is written again within {} of Redis's return", ms(resume_bound)),
        );
    });
}

/// Redis stops answering without closing connections (a frozen process, a partition that
/// drops packets): every call still ends within the L2 timeout, and the L2 is used again once
/// Redis answers.
fn frozen_redis(r: &mut Report) {
    let server = RedisServer::start();
    let peak = Peak::start();
    runtime().block_on(async {
        let l2 = l2(&server.url(), "frozen");
        let cache = item_cache("faults::frozen", Arc::clone(&l2));
        let load = MissLoad::start(cache);
        let caller = Caller::start(cache);
        load.calls(30_000).await;
        load.phase();
        caller.phase();
        let base = rss();
        peak.reset();
        let before = l2.stats();
        server.pause();
        tokio::time::sleep(Duration::from_secs(5)).await;
        let (calls, _) = load.phase();
        let (_, slowest) = caller.phase();
        let during = l2.stats();
        server.resume();
        let writes = l2.stats().writes;
        let resumed = wait_for(Duration::from_secs(30), || l2.stats().writes > writes).await;
        drop(caller);
        load.stop().await;
        let growth = peak.get().saturating_sub(base);
        r.figure("calls while Redis was frozen (5 s)", calls);
        r.figure("slowest call while Redis was frozen", ms(slowest));
        r.figure("L2 operations that timed out", during.errors - before.errors);
        r.figure("  of which probes of the open breaker", during.probes - before.probes);
        r.figure("resident memory growth", mib(growth));
        r.figure("L2 written again after Redis thawed", resumed.map_or("not within 30 s".to_owned(), ms));
        let bound = L2_TIMEOUT + SLACK;
        r.check(slowest <= bound, format!("no call slower than the L2 timeout + {} ({})", ms(SLACK), ms(bound)));
        r.check(during.breaker_opened - before.breaker_opened == 1, "the breaker opened once");
        r.check(growth <= 64 << 20, "memory grows by at most 64 MiB");
        let resume_bound = l2.breaker_cooldown() * 2 + Duration::from_secs(1);
        r.check(
            resumed.is_some_and(|t| t <= resume_bound),
            format!("the L2 is written again within {} of Redis answering", ms(resume_bound)),
        );
    });
}

/// A master of a Redis Cluster dies and its replica takes over: calls stay within the L2
/// timeout throughout, the L2 is used normally within 5 s of the failover, and on the healthy
/// cluster, before and after, the breaker never opens under the load.
fn cluster_failover(r: &mut Report) {
    let mut cluster = RedisCluster::start_with_replicas(Duration::from_millis(2_000));
    let warnings = support::log_lines::warnings();
    // The breaker's log lines from the `since`th on: what made it open.
    let opened = |since: usize| {
        let lines = warnings.matching("circuit breaker open").into_iter().skip(since);
        lines.map(|l| l.text).collect::<Vec<_>>()
    };
    let peak = Peak::start();
    runtime().block_on(async {
        let l2 = Memo::builder()
            .redis_cluster(cluster.urls())
            .namespace("failover")
            .l2_timeout(L2_TIMEOUT)
            .connect()
            .unwrap();
        let cache = item_cache("faults::failover", Arc::clone(&l2));
        let load = MissLoad::start(cache);
        let caller = Caller::start(cache);
        load.calls(50_000).await;
        let (healthy_calls, _) = load.phase();
        let (_, healthy_slowest) = caller.phase();
        let healthy = l2.stats();
        r.figure("calls on the healthy cluster", healthy_calls);
        r.figure("slowest call on the healthy cluster", ms(healthy_slowest));
        r.figure("L2 writes on the healthy cluster", healthy.writes);
        r.figure("L2 operations that timed out on the healthy cluster (a busy process)", healthy.errors);
        r.check(
            healthy.breaker_opened == 0,
            format!("the breaker never opened on the healthy cluster {:?}", opened(0)),
        );
        let base = rss();
        peak.reset();

        let victim = cluster.masters()[0];
        cluster.nodes[victim].kill();
        let killed = Instant::now();
        let promoted = wait_for(Duration::from_secs(30), || cluster.masters().len() == 3).await;
        r.figure("replica promoted after the kill", promoted.map_or("not within 30 s".to_owned(), ms));
        // Normal use: the breaker closed, and writes going through again.
        let writes = l2.stats().writes;
        let resumed = wait_for(Duration::from_secs(30), || {
            l2.breaker_state() == memo_runtime::l2::breaker::BreakerState::Closed && l2.stats().writes > writes + 1_000
        })
        .await;
        let since_failover = resumed.map(|_| killed.elapsed().saturating_sub(promoted.unwrap_or_default()));
        let (_, failover_slowest) = caller.phase();
        r.figure("normal L2 use again after the failover", since_failover.map_or("not within 30 s".to_owned(), ms));
        r.figure("slowest call from the kill to then", ms(failover_slowest));
        let after_failover = l2.stats();
        let opened_before = opened(0).len();
        load.calls(50_000).await;
        let after = l2.stats();
        drop(caller);
        load.stop().await;
        let growth = peak.get().saturating_sub(base);
        r.figure("resident memory growth", mib(growth));
        r.check(
            since_failover.is_some_and(|t| t <= Duration::from_secs(5)),
            "normal L2 use within 5 s of the failover",
        );
        let bound = L2_TIMEOUT + SLACK;
        r.check(
            failover_slowest <= bound,
            format!("no call slower than the L2 timeout + {} ({})", ms(SLACK), ms(bound)),
        );
        r.check(
            after.breaker_opened == after_failover.breaker_opened,
            format!(
                "the breaker did not open again on the healed cluster under the same load {:?}",
                opened(opened_before)
            ),
        );
        r.check(growth <= 64 << 20, "memory grows by at most 64 MiB");
    });
}

/// A value far over the size limit, and a key of another type, at memo keys: neither is read
/// whole, neither counts against Redis, and the key of the wrong type is replaced by memo's
/// next write.
fn bad_data(r: &mut Report) {
    const ROUNDS: u64 = 5;
    let server = RedisServer::start();
    let peak = Peak::start();
    runtime().block_on(async {
        let l2 = Memo::builder()
            .redis(server.url())
            .namespace("bad")
            .l2_timeout(CLASSIFY_TIMEOUT)
            .max_entry_bytes(64 << 10)
            .connect()
            .unwrap();
        let cache = item_cache("faults::bad", Arc::clone(&l2));
        let entry = |id: u64| keys::entry_key("bad", "faults::bad", 0, &KeyBytes::of(&id).unwrap());
        get(cache, 0, "warm").await; // connected
        let base = rss();
        peak.reset();
        let before = l2.stats();
        let mut slowest = Duration::ZERO;
        for _ in 0..ROUNDS {
            // Memo's own writes replaced the last round's plants: wait for them, plant again.
            wait_for(Duration::from_secs(10), || l2.is_idle()).await;
            server.cli(&["DEL", &entry(1), &entry(2)]);
            server.cli(&["SETRANGE", &entry(1), "104857599", "x"]); // 100 MB, made by Redis itself
            server.cli(&["HSET", &entry(2), "field", "value"]);
            cache.invalidate_all(); // an empty L1: the calls read the L2
            for id in [1, 2] {
                let started = Instant::now();
                get(cache, id, "loaded").await;
                slowest = slowest.max(started.elapsed());
            }
        }
        let after = l2.stats();
        let growth = peak.get().saturating_sub(base);
        let (oversized, wrong_type) = (after.oversized - before.oversized, after.wrong_type - before.wrong_type);
        r.figure("reads of a 100 MB value (limit 64 KiB), and of a hash", format!("{ROUNDS} each"));
        r.figure("slowest of those calls", ms(slowest));
        r.figure("resident memory growth (peak)", mib(growth));
        r.figure("reads counted oversized / wrong type", format!("{oversized} / {wrong_type}"));
        r.check(growth <= 8 << 20, "the 100 MB value is never read whole (memory grows by at most 8 MiB)");
        r.check(after.errors == before.errors && after.breaker_opened == 0, "neither counts as a fault of Redis");
        r.check(oversized == ROUNDS && wrong_type == ROUNDS, "each read is counted as what it found");
        let replaced = wait_for(Duration::from_secs(10), || server.cli(&["TYPE", &entry(2)]) == "string").await;
        r.check(replaced.is_some(), "the hash was replaced by memo's next write");
    });
}

/// Redis full with `noeviction`: writes are refused, reads work. The breaker stays closed (no
/// flapping of the read path), and the refusals are logged once per period, not per write.
fn writes_refused(r: &mut Report) {
    let server = RedisServer::start();
    let lines = support::log_lines::installed();
    let warnings = || lines.matching("").into_iter().filter(|l| l.level <= tracing::Level::WARN).count();
    runtime().block_on(async {
        let l2 = l2(&server.url(), "full");
        let writer = item_cache("faults::full", Arc::clone(&l2));
        for id in 0..1_000 {
            get(writer, id, "stored").await;
        }
        let stored = wait_for(Duration::from_secs(10), || l2.stats().writes >= 1_000).await;
        r.check(stored.is_some(), "1,000 entries stored before Redis filled up");
        server.cli(&["SETRANGE", "filler", "4194303", "x"]);
        server.cli(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
        server.cli(&["CONFIG", "SET", "maxmemory", "1mb"]);
        let before = l2.stats();
        let lines_before = warnings();
        let load = MissLoad::start(writer);
        load.calls(30_000).await;
        load.stop().await;
        // An invalidation whose record Redis refuses: sent once (its message goes out), not
        // repeated for as long as Redis is full.
        let sent = l2.stats().invalidations_sent;
        writer.invalidate_all();
        let settled = wait_for(Duration::from_secs(10), || l2.is_idle() && l2.stats().invalidations_sent > sent).await;
        let load = MissLoad::start(writer);
        load.calls(5_000).await;
        load.stop().await;
        let resent = l2.stats().invalidations_sent - sent;
        r.check(
            settled.is_some() && resent == 1,
            format!("an invalidation Redis refused to record was sent once ({resent} times)"),
        );
        let reader = item_cache("faults::full", Arc::clone(&l2)); // another L1: reads go to the L2
        let hits_before = l2.stats().hits;
        for id in 0..1_000 {
            get(reader, id, "reloaded").await;
        }
        let after = l2.stats();
        let logged = warnings() - lines_before;
        r.figure("L2 operations Redis refused (batches of writes)", after.refused - before.refused);
        r.figure("reads answered from the L2 meanwhile", after.hits - hits_before);
        r.figure("times the breaker opened", after.breaker_opened - before.breaker_opened);
        r.figure("warning lines logged", logged);
        r.check(after.refused > before.refused, "writes were refused");
        r.check(after.hits - hits_before == 1_000, "reads still answered from the L2");
        r.check(after.breaker_opened == before.breaker_opened, "the breaker never opened");
        r.check(logged <= 2, "refusals logged at most once per period");
    });
}

/// A second instance, in a process of its own: loads keys, then reports on request which of
/// its copies are older than the invalidations another instance made.
///
/// Protocol on stdin/stdout, a line each: `load N` -> `loaded`; `watch N MS` -> `clean T`
/// (ms until no copy of keys 0..N is held) or `dirty C` (C copies held after MS ms), then
/// `stale S` (calls of keys 0..N answered with a value loaded before the `watch`).
fn instance_process() -> ExitCode {
    let url = std::env::var("MEMO_FAULT_REDIS").expect("MEMO_FAULT_REDIS");
    let namespace = std::env::var("MEMO_FAULT_NAMESPACE").expect("MEMO_FAULT_NAMESPACE");
    runtime().block_on(async {
        let cache = item_cache("faults::shared", l2(&url, &namespace));
        let mut lines = BufReader::new(std::io::stdin()).lines();
        while let Some(Ok(line)) = lines.next() {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["load", n] => {
                    let n: u64 = n.parse().unwrap();
                    for id in 0..n {
                        get(cache, id, "before").await;
                    }
                    println!("loaded");
                }
                ["watch", n, bound] => {
                    let n: u64 = n.parse().unwrap();
                    let bound = Duration::from_millis(bound.parse().unwrap());
                    let held = || (0..n).filter(|id| cache.entry_info(id).is_some()).count();
                    match wait_for(bound, || held() == 0).await {
                        Some(t) => println!("clean {}", t.as_millis()),
                        None => println!("dirty {}", held()),
                    }
                    let mut stale = 0;
                    for id in 0..n {
                        if get(cache, id, "after").await.contains("@before") {
                            stale += 1;
                        }
                    }
                    println!("stale {stale}");
                }
                _ => break,
            }
            let _ = std::io::stdout().flush();
        }
    });
    ExitCode::SUCCESS
}

/// Another instance of the service, as a child process.
struct Instance {
    child: std::process::Child,
    input: std::process::ChildStdin,
    output: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Instance {
    fn start(url: &str, namespace: &str) -> Self {
        let mut child = Command::new(std::env::current_exe().expect("this program"))
            .env("MEMO_FAULT_ROLE", "instance")
            .env("MEMO_FAULT_REDIS", url)
            .env("MEMO_FAULT_NAMESPACE", namespace)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the other instance");
        let input = child.stdin.take().expect("stdin");
        let output = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Self { child, input, output }
    }

    fn ask(&mut self, line: &str) -> String {
        writeln!(self.input, "{line}").expect("write to the instance");
        self.read()
    }

    fn read(&mut self) -> String {
        self.output.next().and_then(Result::ok).expect("an answer from the instance")
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A partition: this instance loses Redis for 10 s and invalidates 100,000 keys meanwhile,
/// 10,000 a second, first the 10,000 the other instance holds; the other instance, still
/// connected, serves its copies. Once the partition heals, the other instance drops every
/// invalidated copy within 1 s and serves none of them, and this instance's memory stayed
/// bounded throughout.
fn partition(r: &mut Report) {
    const KEYS: u64 = 10_000;
    let server = RedisServer::start();
    let proxy = Proxy::start(format!("127.0.0.1:{}", server.port()).parse().unwrap());
    let mut other = Instance::start(&server.url(), "partition");
    assert_eq!(other.ask(&format!("load {KEYS}")), "loaded");
    let peak = Peak::start();
    runtime().block_on(async {
        let l2 = l2(&proxy.url(), "partition");
        let cache = item_cache("faults::shared", Arc::clone(&l2));
        for id in 0..KEYS {
            get(cache, id, "before").await; // read from the L2, where the other instance put them
        }
        let subscribed = wait_for(Duration::from_secs(10), || l2.is_subscribed()).await;
        r.check(subscribed.is_some(), "this instance is on the backplane");
        let base = rss();
        peak.reset();
        proxy.cut();
        let started = Instant::now();
        for round in 0..10u32 {
            for id in u64::from(round) * KEYS..u64::from(round + 1) * KEYS {
                cache.invalidate(&id);
            }
            let next = Duration::from_secs(u64::from(round) + 1);
            tokio::time::sleep(next.saturating_sub(started.elapsed())).await;
        }
        let growth = peak.get().saturating_sub(base);
        r.figure("invalidations made while cut off", 10 * KEYS);
        r.figure("resident memory growth while cut off", mib(growth));
        proxy.restore();
        let answer = other.ask(&format!("watch {KEYS} 5000"));
        let stale = other.read();
        r.figure("the other instance, after the partition healed", &answer);
        r.figure("calls the other instance answered with an invalidated value", stale.trim_start_matches("stale "));
        let clean_ms = answer.strip_prefix("clean ").and_then(|t| t.parse::<u64>().ok());
        r.check(clean_ms.is_some_and(|t| t <= 1_000), "the other instance dropped every invalidated copy within 1 s");
        r.check(stale == "stale 0", "and served none of them");
        r.check(growth <= 8 << 20, "this instance's memory grew by at most 8 MiB while cut off");
    });
}
