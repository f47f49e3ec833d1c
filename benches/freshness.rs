//! Freshness under load, simulated: loader runs per simulated second when 10,000 hot keys
//! expire together, and what an origin outage costs with stale-if-error.
//!
//! Time is the mock clock: 1,000 requests per simulated second (Zipf(1.0) over the keys), each
//! request one simulated millisecond after the last, background reloads settled between
//! requests. The loader takes about 0.3 ms of real time so that early refresh has a measured
//! load time; simulated time does not move during a load.
//!
//! Run: `cargo bench -p memo-benches --bench freshness`. Prints the tables (and leaves them for
//! `benches/table.py`, which puts them in the README) and writes `docs/freshness-loads.svg`
//! (loader runs per second, one line per configuration).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use memo_runtime::outcome::ResultShape;
use memo_runtime::testing::MockClock;
use memo_runtime::{Cache, CacheBuilder};

const KEYS: u32 = 10_000;
const RATE: u64 = 1_000;
const SECONDS: u64 = 180;

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Zipf(1.0) over `0..n` by inverse CDF.
struct Zipf(Vec<f64>);

impl Zipf {
    fn new(n: u32) -> Self {
        let mut total = 0.0;
        let mut cdf: Vec<f64> = (1..=n)
            .map(|k| {
                total += 1.0 / f64::from(k);
                total
            })
            .collect();
        cdf.iter_mut().for_each(|c| *c /= total);
        Self(cdf)
    }

    fn sample(&self, rng: &mut Rng) -> u32 {
        let u = rng.unit();
        self.0.partition_point(|c| *c < u).min(self.0.len() - 1) as u32
    }
}

static ORIGIN_DOWN: AtomicBool = AtomicBool::new(false);
static SLOW_LOADER: AtomicBool = AtomicBool::new(false);

struct Run {
    name: &'static str,
    loads_per_second: Vec<u64>,
    failed_calls: u64,
    origin_attempts_while_down: u64,
    /// Keys requested while the origin was down: with `retry_after` r over an outage of d,
    /// the origin sees at most `keys * (d / r + 1)` attempts.
    keys_requested_while_down: usize,
    early_refreshes: u64,
    stale_served: u64,
}

fn simulate(name: &'static str, builder: CacheBuilder, seconds: u64, outage: Option<(u64, u64)>) -> Run {
    static LOADS: AtomicU64 = AtomicU64::new(0);
    static DOWN_ATTEMPTS: AtomicU64 = AtomicU64::new(0);
    let clock = MockClock::install();
    let cache: &'static Cache<u32, u64> = Box::leak(Box::new(builder.build()));
    let shape = ResultShape::<u64, String>::default();
    let call = |key: u32| {
        cache.get_or_load(
            key,
            memo_runtime::Load::new(shape, move || {
                LOADS.fetch_add(1, Ordering::Relaxed);
                if SLOW_LOADER.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_micros(300));
                }
                if ORIGIN_DOWN.load(Ordering::Relaxed) {
                    DOWN_ATTEMPTS.fetch_add(1, Ordering::Relaxed);
                    return Err("origin down".to_owned());
                }
                Ok(u64::from(key))
            })
            .background(),
        )
    };
    // Every key written at once.
    for key in 0..KEYS {
        let _ = call(key);
    }
    cache.wait_for_loads(Duration::from_secs(10));
    LOADS.store(0, Ordering::Relaxed);
    DOWN_ATTEMPTS.store(0, Ordering::Relaxed);
    let zipf = Zipf::new(KEYS);
    let mut rng = Rng(42);
    let mut loads_per_second = Vec::new();
    let mut failed_calls = 0;
    let mut down_keys = std::collections::HashSet::new();
    for second in 0..seconds {
        let down = outage.is_some_and(|(from, to)| (from..to).contains(&second));
        ORIGIN_DOWN.store(down, Ordering::Relaxed);
        let before = LOADS.load(Ordering::Relaxed);
        for _ in 0..RATE {
            clock.advance(Duration::from_millis(1000 / RATE));
            let key = zipf.sample(&mut rng);
            if down {
                down_keys.insert(key);
            }
            if call(key).is_err() {
                failed_calls += 1;
            }
            cache.wait_for_loads(Duration::from_secs(10));
        }
        loads_per_second.push(LOADS.load(Ordering::Relaxed) - before);
    }
    ORIGIN_DOWN.store(false, Ordering::Relaxed);
    let stats = cache.stats();
    Run {
        name,
        loads_per_second,
        failed_calls,
        origin_attempts_while_down: DOWN_ATTEMPTS.load(Ordering::Relaxed),
        keys_requested_while_down: down_keys.len(),
        early_refreshes: stats.early_refreshes,
        stale_served: stats.stale_served,
    }
}

fn ttl() -> CacheBuilder {
    Cache::builder().capacity(KEYS as usize * 2).ttl(Duration::from_secs(10))
}

fn svg(runs: &[Run]) -> String {
    let (w, h, left, bottom, top) = (900.0, 440.0, 60.0, 40.0, 40.0);
    let max = runs.iter().flat_map(|r| r.loads_per_second.iter()).copied().max().unwrap_or(1).max(1) as f64;
    let seconds = runs.iter().map(|r| r.loads_per_second.len()).max().unwrap_or(1) as f64;
    let x = |s: f64| left + s / seconds * (w - left - 20.0);
    let y = |v: f64| h - bottom - v / max * (h - bottom - top);
    let colors = ["#d62728", "#1f77b4", "#ff7f0e", "#2ca02c"];
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = write!(
        out,
        r#"<text x="{}" y="20" text-anchor="middle" font-size="14">loader runs per simulated second: 10,000 keys loaded at once, ttl 10 s, 1,000 req/s Zipf(1.0)</text>"#,
        w / 2.0
    );
    for tick in 0..=4 {
        let v = max * f64::from(tick) / 4.0;
        let _ = write!(
            out,
            r##"<line x1="{left}" x2="{}" y1="{y0}" y2="{y0}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{v:.0}</text>"##,
            w - 20.0,
            left - 6.0,
            y(v) + 4.0,
            y0 = y(v)
        );
    }
    for tick in (0..=seconds as u64).step_by(30) {
        let _ = write!(
            out,
            r#"<text x="{}" y="{}" text-anchor="middle">{tick} s</text>"#,
            x(tick as f64),
            h - bottom + 16.0
        );
    }
    for (i, run) in runs.iter().enumerate() {
        let points: Vec<String> = run
            .loads_per_second
            .iter()
            .enumerate()
            .map(|(s, v)| format!("{:.1},{:.1}", x(s as f64 + 0.5), y(*v as f64)))
            .collect();
        let color = colors[i % colors.len()];
        let _ =
            write!(out, r#"<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{}"/>"#, points.join(" "));
        let _ = write!(
            out,
            r#"<rect x="{}" y="{}" width="12" height="3" fill="{color}"/><text x="{}" y="{}">{}</text>"#,
            w - 340.0,
            top + 4.0 + 16.0 * i as f64,
            w - 322.0,
            top + 9.0 + 16.0 * i as f64,
            run.name
        );
    }
    out.push_str("</svg>\n");
    out
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and test harness probes
    }
    let mut runs = Vec::new();
    runs.push(simulate("ttl only", ttl(), SECONDS, None));
    runs.push(simulate("ttl + stale 5 s", ttl().stale(Duration::from_secs(5)), SECONDS, None));
    runs.push(simulate("ttl + jitter 10 s", ttl().jitter(Duration::from_secs(10)), SECONDS, None));
    SLOW_LOADER.store(true, Ordering::Relaxed);
    runs.push(simulate(
        "ttl + jitter 10 s + early refresh (beta 1000)",
        ttl().jitter(Duration::from_secs(10)).early_refresh(1_000.0),
        SECONDS,
        None,
    ));
    SLOW_LOADER.store(false, Ordering::Relaxed);

    let mut table = String::new();
    let mut line = |text: String| {
        println!("{text}");
        table.push_str(&text);
        table.push('\n');
    };
    line("| configuration | mean loads/s | peak loads/s | peak / mean | stale answers | early refreshes |".into());
    line("|---|---|---|---|---|---|".into());
    for run in &runs {
        let mean = run.loads_per_second.iter().sum::<u64>() as f64 / run.loads_per_second.len() as f64;
        let peak = run.loads_per_second.iter().copied().max().unwrap_or(0);
        line(format!(
            "| {} | {mean:.1} | {peak} | {:.2} | {} | {} |",
            run.name,
            peak as f64 / mean.max(f64::MIN_POSITIVE),
            run.stale_served,
            run.early_refreshes
        ));
    }

    let outage = simulate(
        "stale-if-error",
        ttl()
            .jitter(Duration::from_secs(10))
            .stale_if_error(Duration::from_secs(600))
            .retry_after(Duration::from_secs(5)),
        90,
        Some((30, 60)),
    );
    let plain = simulate("no stale_if_error", ttl().jitter(Duration::from_secs(10)), 90, Some((30, 60)));
    let outage = Run { name: "stale_if_error 10 min, retry_after 5 s", ..outage };
    line(String::new());
    line("| origin down from 30 s to 60 s | failed calls | origin attempts while down | bound: keys x (30 s / retry_after + 1) |".into());
    line("|---|---|---|---|".into());
    for run in [&plain, &outage] {
        let bound = if run.name.starts_with("stale_if_error") {
            format!("{}", run.keys_requested_while_down * 7)
        } else {
            "none".into()
        };
        line(format!("| {} | {} | {} | {bound} |", run.name, run.failed_calls, run.origin_attempts_while_down));
    }
    // Read by `benches/table.py`, which writes the README's tables.
    let target = std::env::var("CARGO_TARGET_DIR")
        .map_or_else(|_| std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).join("target"), Into::into);
    let tables = target.join("criterion").join("freshness.md");
    if std::fs::create_dir_all(target.join("criterion")).and_then(|()| std::fs::write(&tables, &table)).is_err() {
        eprintln!("could not write {}", tables.display());
    }

    let path =
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).join("docs").join("freshness-loads.svg");
    match std::fs::create_dir_all(path.parent().unwrap_or(std::path::Path::new(".")))
        .and_then(|()| std::fs::write(&path, svg(&runs)))
    {
        Ok(()) => println!("\nwrote {}", path.display()),
        Err(e) => eprintln!("could not write {}: {e}", path.display()),
    }
}
