//! Requests of 100 keys each against a database whose round trip costs 20 µs (a busy wait,
//! plus 0.1 µs a row), three ways: a loop of single-key `#[cached]` calls, a hand-written
//! get-many over moka (get each key, load the misses in one query, insert them), and a
//! `#[cached(batch)]` function. With 0%, 50% and 95% of the keys warm: database round trips
//! and rows per request (counted), and time per request (median of interleaved rounds).
//!
//! Run: `cargo bench -p memo-benches --bench batch` (`-- --readme` writes the README's table).

#[path = "support/readme.rs"]
mod readme;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const KEYS_PER_REQUEST: usize = 100;
const REQUESTS: usize = 100;
const ROUNDS: usize = 5;
const WARM: u64 = 10_000;
const ROUND_TRIP: Duration = Duration::from_micros(20);
const PER_ROW: Duration = Duration::from_nanos(100);

/// The simulated database: counts round trips and rows, and takes their time.
struct Db {
    round_trips: AtomicU64,
    rows: AtomicU64,
}

impl Db {
    const fn new() -> Self {
        Self { round_trips: AtomicU64::new(0), rows: AtomicU64::new(0) }
    }

    fn query(&self, ids: &[u64]) -> HashMap<u64, u64> {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        self.rows.fetch_add(ids.len() as u64, Ordering::Relaxed);
        let until = Instant::now() + ROUND_TRIP + PER_ROW * ids.len() as u32;
        while Instant::now() < until {
            std::hint::spin_loop();
        }
        ids.iter().map(|&id| (id, id * 2)).collect()
    }

    /// Round trips and rows since the last call.
    fn take(&self) -> (u64, u64) {
        (self.round_trips.swap(0, Ordering::Relaxed), self.rows.swap(0, Ordering::Relaxed))
    }
}

static SINGLE_DB: Db = Db::new();
static BATCH_DB: Db = Db::new();
static MOKA_DB: Db = Db::new();
static GATHER_DB: Db = Db::new();

#[memo_runtime::cached(ttl = 300, capacity = 100_000)]
fn single(id: u64) -> u64 {
    SINGLE_DB.query(&[id])[&id]
}

#[memo_runtime::cached(batch, ttl = 300, capacity = 100_000)]
fn batch(ids: &[u64]) -> HashMap<u64, u64> {
    BATCH_DB.query(ids)
}

#[memo_runtime::cached(batch, ttl = 300, capacity = 100_000)]
async fn gathered(ids: &[u64]) -> HashMap<u64, u64> {
    GATHER_DB.query(ids)
}

/// Polls every future of `all` until each is done, in one task (what `join_all` does), and
/// returns their outputs in order.
async fn join_all<F: Future>(all: Vec<F>) -> Vec<F::Output> {
    let mut all: Vec<_> = all.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = all.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        for (future, output) in all.iter_mut().zip(&mut outputs) {
            if output.is_none()
                && let std::task::Poll::Ready(done) = future.as_mut().poll(cx)
            {
                *output = Some(done);
            }
        }
        if outputs.iter().all(Option::is_some) { std::task::Poll::Ready(()) } else { std::task::Poll::Pending }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// Gathering: the same requests as 100 single-key `one` calls joined in a request scope, and
/// as one call of the async batch function.
fn gathering(table: &mut String, state: &mut u64) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    table.push_str("\n| warm keys | 100 keys as | DB round trips / request | time / request |\n|---|---|---|---|\n");
    for warm in [0, 95] {
        let mut times: [Vec<f64>; 2] = Default::default();
        let mut round_trips = [0; 2];
        for _ in 0..ROUNDS {
            let requests = requests(warm, state);
            for (way, times) in times.iter_mut().enumerate() {
                gathered::invalidate_all();
                for id in 0..WARM {
                    gathered::put(&id, id * 2);
                }
                let start = Instant::now();
                for keys in &requests {
                    if way == 0 {
                        let calls = keys.iter().map(|&id| gathered::one(id)).collect();
                        std::hint::black_box(rt.block_on(memo_runtime::scope(join_all(calls))));
                    } else {
                        std::hint::black_box(rt.block_on(gathered(keys)));
                    }
                }
                times.push(start.elapsed().as_secs_f64() * 1e6 / REQUESTS as f64);
                round_trips[way] += GATHER_DB.take().0;
            }
        }
        let ways = ["100 `one(id)` calls joined in a request scope", "one call of the batch function"];
        for (way, name) in ways.iter().enumerate() {
            let mut xs = times[way].clone();
            xs.sort_by(f64::total_cmp);
            let per_request = round_trips[way] as f64 / (ROUNDS * REQUESTS) as f64;
            table.push_str(&format!("| {warm}% | {name} | {per_request:.1} | {:.0} µs |\n", xs[xs.len() / 2]));
        }
    }
}

/// A request's keys: `warm` of them from the warm set, the rest never asked before, shuffled.
fn requests(warm: usize, state: &mut u64) -> Vec<Vec<u64>> {
    let mut next_fresh = WARM;
    let mut random = move || {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    };
    (0..REQUESTS)
        .map(|_| {
            let mut keys: Vec<u64> = (0..KEYS_PER_REQUEST)
                .map(|i| {
                    if i < warm {
                        random() % WARM
                    } else {
                        next_fresh += 1;
                        next_fresh
                    }
                })
                .collect();
            for i in (1..keys.len()).rev() {
                keys.swap(i, (random() % (i as u64 + 1)) as usize);
            }
            keys
        })
        .collect()
}

/// What one contender did for one round of requests.
#[derive(Default)]
struct Tally {
    micros_per_request: Vec<f64>,
    round_trips: u64,
    rows: u64,
}

impl Tally {
    fn record(&mut self, took: Duration, (round_trips, rows): (u64, u64)) {
        self.micros_per_request.push(took.as_secs_f64() * 1e6 / REQUESTS as f64);
        self.round_trips += round_trips;
        self.rows += rows;
    }

    fn per_request(&self, count: u64) -> f64 {
        count as f64 / (ROUNDS * REQUESTS) as f64
    }
}

fn main() {
    let mut table = String::from(
        "| warm keys | contender | DB round trips / request | rows loaded / request | time / request |\n|---|---|---|---|---|\n",
    );
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    for warm in [0, 50, 95] {
        let mut tallies: [Tally; 3] = Default::default();
        for _ in 0..ROUNDS {
            let requests = requests(warm, &mut state);
            // Each contender starts the round with the warm set cached and nothing else.
            single::invalidate_all();
            batch::invalidate_all();
            let moka: moka::sync::Cache<u64, u64> =
                moka::sync::Cache::builder().max_capacity(100_000).time_to_live(Duration::from_secs(300)).build();
            for id in 0..WARM {
                single::put(&id, id * 2);
                batch::put(&id, id * 2);
                moka.insert(id, id * 2);
            }
            let start = Instant::now();
            for keys in &requests {
                let values: Vec<u64> = keys.iter().map(|&id| single(id)).collect();
                std::hint::black_box(values);
            }
            tallies[0].record(start.elapsed(), SINGLE_DB.take());
            let start = Instant::now();
            for keys in &requests {
                let mut found: HashMap<u64, u64> = HashMap::with_capacity(keys.len());
                let mut missing = Vec::new();
                for &id in keys {
                    match moka.get(&id) {
                        Some(value) => drop(found.insert(id, value)),
                        None => missing.push(id),
                    }
                }
                if !missing.is_empty() {
                    for (id, value) in MOKA_DB.query(&missing) {
                        moka.insert(id, value);
                        found.insert(id, value);
                    }
                }
                std::hint::black_box(found);
            }
            tallies[1].record(start.elapsed(), MOKA_DB.take());
            let start = Instant::now();
            for keys in &requests {
                std::hint::black_box(batch(keys));
            }
            tallies[2].record(start.elapsed(), BATCH_DB.take());
        }
        let names = [
            "memo, a loop of single-key `#[cached]` calls",
            "moka, get-many by hand (get, one query for the misses, insert)",
            "**memo** `#[cached(batch)]`",
        ];
        for (name, tally) in names.iter().zip(tallies) {
            let micros = {
                let mut xs = tally.micros_per_request.clone();
                xs.sort_by(f64::total_cmp);
                xs[xs.len() / 2]
            };
            table.push_str(&format!(
                "| {warm}% | {name} | {:.1} | {:.1} | {micros:.0} µs |\n",
                tally.per_request(tally.round_trips),
                tally.per_request(tally.rows),
            ));
        }
    }
    let caption = format!(
        "Requests of {KEYS_PER_REQUEST} keys against a database whose round trip takes {} µs (a busy wait, plus {} ns a row), {REQUESTS} requests a round, contenders in turns over {ROUNDS} rounds, median time: `cargo bench -p memo-benches --bench batch`.\n\n",
        ROUND_TRIP.as_micros(),
        PER_ROW.as_nanos()
    );
    let mut table = caption + &table;
    gathering(&mut table, &mut state);
    print!("{table}");
    readme::write_if_asked("batch", &table);
}
