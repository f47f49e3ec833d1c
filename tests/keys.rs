//! How keys are formed: reference and `Cow` arguments by their owned form, parameters bound
//! to patterns, `skip`, `key = ...`, and invalidation racing a load.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier};

use memo_runtime::cached;

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
struct Filter {
    category: String,
    max_price: u32,
}

static SLICE_LOADS: AtomicU32 = AtomicU32::new(0);
static COW_LOADS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 60)]
fn greeting<'a>(name: Cow<'a, str>) -> String {
    COW_LOADS.fetch_add(1, Ordering::SeqCst);
    format!("hello {name}")
}

/// A `Cow` is keyed by the owned form of what it holds, borrowed or owned alike.
#[test]
fn cow_arguments_are_keyed_by_their_owned_form() {
    assert_eq!(greeting(Cow::Borrowed("ann")), "hello ann");
    assert_eq!(greeting(Cow::Owned(String::from("ann"))), "hello ann");
    assert_eq!(COW_LOADS.load(Ordering::SeqCst), 1);
    greeting(Cow::Borrowed("bob"));
    assert_eq!(COW_LOADS.load(Ordering::SeqCst), 2);
    // The handle takes what the `Cow` holds, by reference.
    assert!(greeting::invalidate("ann"));
    greeting(Cow::Borrowed("ann"));
    assert_eq!(COW_LOADS.load(Ordering::SeqCst), 3);
}

#[cached(ttl = 60)]
fn total(prices: &[u32], filter: &Filter, label: &str) -> u64 {
    SLICE_LOADS.fetch_add(1, Ordering::SeqCst);
    prices.iter().filter(|p| **p <= filter.max_price).map(|p| u64::from(*p)).sum::<u64>() + label.len() as u64
}

#[test]
fn reference_arguments_are_keyed_by_their_owned_form() {
    let filter = Filter { category: "books".into(), max_price: 10 };
    let prices = vec![5, 10, 15];
    assert_eq!(total(&prices, &filter, "a"), 16);
    // Equal contents from different allocations hit the same entry.
    let same_prices = prices.clone();
    let same_filter = filter.clone();
    let label = String::from("a");
    assert_eq!(total(&same_prices, &same_filter, &label), 16);
    assert_eq!(SLICE_LOADS.load(Ordering::SeqCst), 1);
    // Any part differing is another key.
    total(&prices, &Filter { max_price: 20, ..filter.clone() }, "a");
    total(&prices[..2], &filter, "a");
    total(&prices, &filter, "b");
    assert_eq!(SLICE_LOADS.load(Ordering::SeqCst), 4);
    assert!(total::invalidate(&prices, &filter, "a"));
}

struct Pool {
    queries: AtomicU32,
}

#[cached(ttl = 60, skip(pool))]
fn user_name(pool: &Pool, id: u32) -> String {
    pool.queries.fetch_add(1, Ordering::SeqCst);
    format!("user {id}")
}

#[test]
fn skipped_arguments_are_not_part_of_the_key() {
    let (a, b) = (Pool { queries: AtomicU32::new(0) }, Pool { queries: AtomicU32::new(0) });
    assert_eq!(user_name(&a, 1), "user 1");
    assert_eq!(user_name(&b, 1), "user 1");
    assert_eq!(a.queries.load(Ordering::SeqCst) + b.queries.load(Ordering::SeqCst), 1);
    assert!(user_name::invalidate(&1), "the handle takes only the key's parameters");
}

static EXPR_LOADS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 60, key = filter.category.to_lowercase())]
fn by_category(filter: Filter, page: u32) -> String {
    EXPR_LOADS.fetch_add(1, Ordering::SeqCst);
    format!("{} page {page}", filter.category)
}

#[test]
fn an_explicit_key_expression_decides_the_key() {
    let books = Filter { category: "Books".into(), max_price: 1 };
    assert_eq!(by_category(books.clone(), 1), "Books page 1");
    assert_eq!(by_category(Filter { category: "BOOKS".into(), max_price: 9 }, 2), "Books page 1");
    assert_eq!(EXPR_LOADS.load(Ordering::SeqCst), 1, "only the lower-cased category is the key");
    assert!(by_category::invalidate(&books));
}

static RACE_LOADS: AtomicU32 = AtomicU32::new(0);
static RACE_VALUE: AtomicU32 = AtomicU32::new(1);

/// Reads the current value, then (on the first run) waits at the barrier so the test can
/// update and invalidate before the load returns.
#[cached(ttl = 60, skip(barrier))]
fn racing(id: u32, barrier: &Option<Arc<Barrier>>) -> u32 {
    let _ = id;
    let value = RACE_VALUE.load(Ordering::SeqCst);
    if RACE_LOADS.fetch_add(1, Ordering::SeqCst) == 0
        && let Some(barrier) = barrier
    {
        barrier.wait(); // read done
        barrier.wait(); // update and invalidation done
    }
    value
}

/// Regression guard for the cache-aside race: read v1, update to v2 and invalidate, the load
/// of v1 finishes; v1 must not be stored.
#[test]
fn an_invalidation_during_a_load_keeps_the_old_value_out() {
    let barrier = Arc::new(Barrier::new(2));
    let loader = {
        let barrier = Some(Arc::clone(&barrier));
        std::thread::spawn(move || racing(1, &barrier))
    };
    barrier.wait(); // the load has read 1
    RACE_VALUE.store(2, Ordering::SeqCst);
    racing::invalidate(&1);
    barrier.wait();
    assert_eq!(loader.join().unwrap(), 1, "the racing caller gets what it read");
    assert_eq!(racing(1, &None), 2, "the next call reloads instead of serving the stale value");
    assert_eq!(RACE_LOADS.load(Ordering::SeqCst), 2);
}

#[test]
fn caches_and_stats_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<memo_runtime::Cache<String, Vec<u8>>>();
    assert_send_sync::<memo_runtime::CacheStats>();
    assert_send_sync::<memo_runtime::CacheBuilder>();
}

static ALL_RACE_LOADS: AtomicU32 = AtomicU32::new(0);
static ALL_RACE_VALUE: AtomicU32 = AtomicU32::new(1);

#[cached(ttl = 60, skip(barrier))]
fn racing_all(id: u32, barrier: &Option<Arc<Barrier>>) -> u32 {
    let value = ALL_RACE_VALUE.load(Ordering::SeqCst);
    if ALL_RACE_LOADS.fetch_add(1, Ordering::SeqCst) == 0
        && let Some(barrier) = barrier
    {
        barrier.wait();
        barrier.wait();
    }
    let _ = id;
    value
}

/// The same race against `invalidate_all`: a load that started before it is not stored.
#[test]
fn an_invalidate_all_during_a_load_keeps_the_old_value_out() {
    let barrier = Arc::new(Barrier::new(2));
    let loader = {
        let barrier = Some(Arc::clone(&barrier));
        std::thread::spawn(move || racing_all(1, &barrier))
    };
    barrier.wait();
    ALL_RACE_VALUE.store(2, Ordering::SeqCst);
    racing_all::invalidate_all();
    barrier.wait();
    assert_eq!(loader.join().unwrap(), 1);
    assert_eq!(racing_all(1, &None), 2);
}

static FLOAT_LOADS: AtomicU32 = AtomicU32::new(0);

/// A float cannot be a key part (the macro says so and names this fix): its bits can.
#[cached(ttl = 60, key = (weight_kg.to_bits(), zone))]
fn shipping(weight_kg: f64, zone: u8) -> u32 {
    FLOAT_LOADS.fetch_add(1, Ordering::SeqCst);
    (weight_kg * f64::from(zone)) as u32
}

#[test]
fn a_float_is_keyed_by_its_bits_when_the_key_says_so() {
    assert_eq!(shipping(1.5, 2), 3);
    assert_eq!(shipping(1.5, 2), 3);
    assert_eq!(FLOAT_LOADS.load(Ordering::SeqCst), 1);
    assert_eq!(shipping(2.5, 2), 5);
    assert_eq!(FLOAT_LOADS.load(Ordering::SeqCst), 2);
    assert!(shipping::invalidate(&1.5, &2));
}

static AREA_LOADS: AtomicU32 = AtomicU32::new(0);
static SHIFT_LOADS: AtomicU32 = AtomicU32::new(0);

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
struct Point {
    x: u32,
    y: u32,
}

/// Keyed by the whole tuple; the handle takes it under the name `width_height`.
#[cached(ttl = 60)]
fn area((width, height): (u32, u32)) -> u32 {
    AREA_LOADS.fetch_add(1, Ordering::SeqCst);
    width * height
}

/// Keyed by one binding of each pattern; tagged by another.
#[cached(ttl = 60, key = (x, dx), tags = [format!("keys:shift:{y}")])]
fn shift(&Point { x, y }: &Point, (dx, mut dy): (u32, u32)) -> (u32, u32) {
    SHIFT_LOADS.fetch_add(1, Ordering::SeqCst);
    dy += 1;
    (x + dx, y + dy)
}

#[test]
fn pattern_parameters_are_keyed_by_their_value_or_by_the_bindings_a_key_names() {
    assert_eq!(area((2, 3)), 6);
    assert_eq!(area((2, 3)), 6);
    assert_eq!(area((3, 2)), 6);
    assert_eq!(AREA_LOADS.load(Ordering::SeqCst), 2, "(2, 3) and (3, 2) are two keys");
    assert!(area::invalidate(&(2, 3)));
    area((2, 3));
    assert_eq!(AREA_LOADS.load(Ordering::SeqCst), 3);

    assert_eq!(shift(&Point { x: 1, y: 5 }, (10, 0)), (11, 6));
    assert_eq!(shift(&Point { x: 1, y: 9 }, (10, 7)), (11, 6), "same x and dx: a hit");
    assert_eq!(SHIFT_LOADS.load(Ordering::SeqCst), 1);
    memo_runtime::invalidate_tag("keys:shift:5");
    assert_eq!(shift(&Point { x: 1, y: 9 }, (10, 7)), (11, 17), "tagged by the y it was loaded with");
    assert_eq!(SHIFT_LOADS.load(Ordering::SeqCst), 2);
    assert!(shift::invalidate(&Point { x: 1, y: 0 }, &(10, 0)));
}
