//! Tags and invalidation: tag expressions over arguments, tags derived from values,
//! `invalidate_tag` across functions, `#[invalidate]`, race safety and counts by cause.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier};

use memo_runtime::{cached, invalidate, invalidate_tag};

#[derive(Clone, Debug, PartialEq)]
struct Product {
    id: u64,
    category: String,
}

static PRODUCT_LOADS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 300, tags = [format!("t1:product:{id}"), "t1:products", format!("t1:category:{}", category_of(id))])]
fn product(id: u64) -> Option<Product> {
    PRODUCT_LOADS.fetch_add(1, Ordering::SeqCst);
    Some(Product { id, category: category_of(id).into() })
}

fn category_of(id: u64) -> &'static str {
    if id.is_multiple_of(2) { "even" } else { "odd" }
}

static LABEL_LOADS: AtomicU32 = AtomicU32::new(0);

/// A second function carrying the same product tags.
#[cached(ttl = 300, tags = [format!("t1:product:{id}")])]
async fn label(id: u64) -> String {
    LABEL_LOADS.fetch_add(1, Ordering::SeqCst);
    format!("#{id}")
}

#[tokio::test]
async fn a_tag_drops_exactly_the_entries_that_carry_it_in_every_function() {
    for id in 1..=4 {
        product(id);
        label(id).await;
    }
    invalidate_tag("t1:product:2");
    for id in 1..=4 {
        product(id);
        label(id).await;
    }
    assert_eq!(PRODUCT_LOADS.load(Ordering::SeqCst), 5, "only product 2 reloaded");
    assert_eq!(LABEL_LOADS.load(Ordering::SeqCst), 5, "in both functions");

    invalidate_tag("t1:category:odd");
    for id in 1..=4 {
        product(id);
    }
    assert_eq!(PRODUCT_LOADS.load(Ordering::SeqCst), 7, "1 and 3");

    invalidate_tag("t1:products");
    for id in 1..=4 {
        product(id);
        label(id).await;
    }
    assert_eq!(PRODUCT_LOADS.load(Ordering::SeqCst), 11);
    assert_eq!(LABEL_LOADS.load(Ordering::SeqCst), 5, "label entries do not carry t1:products");
    let stats = product::stats();
    assert_eq!(stats.invalidations.tags, 1 + 2 + 4, "each entry counted once when found invalid");
}

static SEARCH_LOADS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 300, tags = ["t2:search"], tags_from = |found: &Vec<Product>| found.iter().map(|p| format!("t2:product:{}", p.id)))]
fn search(query: &str) -> Result<Vec<Product>, String> {
    SEARCH_LOADS.fetch_add(1, Ordering::SeqCst);
    let ids: &[u64] = if query == "odd" { &[1, 3] } else { &[2, 4] };
    Ok(ids.iter().map(|&id| Product { id, category: query.into() }).collect())
}

#[test]
fn tags_derived_from_the_value_invalidate_results_that_contain_an_item() {
    search("odd").unwrap();
    search("even").unwrap();
    invalidate_tag("t2:product:3");
    search("odd").unwrap();
    search("even").unwrap();
    assert_eq!(SEARCH_LOADS.load(Ordering::SeqCst), 3, "only the result containing product 3");
    memo_runtime::invalidate_tags(["t2:search"]);
    search("odd").unwrap();
    search("even").unwrap();
    assert_eq!(SEARCH_LOADS.load(Ordering::SeqCst), 5);
}

static STOCK_LOADS: AtomicU32 = AtomicU32::new(0);
static STOCK: AtomicU32 = AtomicU32::new(10);

#[cached(ttl = 300, tags = [format!("t3:stock:{sku}")])]
fn stock(sku: u64) -> u32 {
    STOCK_LOADS.fetch_add(1, Ordering::SeqCst);
    let _ = sku;
    STOCK.load(Ordering::SeqCst)
}

#[invalidate(tags = [format!("t3:stock:{sku}")])]
fn set_stock(sku: u64, level: u32) -> Result<(), String> {
    if level > 1_000 {
        return Err("too many".into());
    }
    STOCK.store(level, Ordering::SeqCst);
    Ok(())
}

#[test]
fn invalidate_runs_after_success_only() {
    assert_eq!(stock(1), 10);
    set_stock(1, 2_000).unwrap_err();
    assert_eq!(stock(1), 10, "an Err invalidates nothing");
    set_stock(1, 5).unwrap();
    assert_eq!(stock(1), 5, "an Ok invalidated the tag");
    assert_eq!(STOCK_LOADS.load(Ordering::SeqCst), 2);
}

static PRICE_LOADS: AtomicU32 = AtomicU32::new(0);
static LIST_LOADS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 300)]
fn price_of(id: u64, currency: &str) -> u64 {
    PRICE_LOADS.fetch_add(1, Ordering::SeqCst);
    id + currency.len() as u64
}

#[cached(ttl = 300)]
async fn price_list(page: u32) -> Vec<u64> {
    LIST_LOADS.fetch_add(1, Ordering::SeqCst);
    vec![u64::from(page)]
}

/// Takes `currency` by value and moves it: the entry arguments are evaluated before the body.
/// Arguments are given as the cached function takes them (`id`) or by reference (`&currency`).
#[invalidate(entries = [price_of(id, &currency)], all = [price_list])]
async fn reprice(id: u64, currency: String) -> Option<String> {
    Some(currency)
}

#[tokio::test]
async fn invalidate_entries_and_whole_functions() {
    price_of(1, "EUR");
    price_of(2, "EUR");
    price_list(1).await;
    price_list(2).await;
    assert_eq!(reprice(1, "EUR".into()).await.as_deref(), Some("EUR"));
    price_of(1, "EUR");
    price_of(2, "EUR");
    price_list(1).await;
    price_list(2).await;
    assert_eq!(PRICE_LOADS.load(Ordering::SeqCst), 3, "only (1, EUR) dropped");
    assert_eq!(LIST_LOADS.load(Ordering::SeqCst), 4, "the whole list cache dropped");
    assert_eq!(price_of::stats().invalidations.keys, 1);
    assert_eq!(price_list::stats().invalidations.all, 1);
}

static RACE_LOADS: AtomicU32 = AtomicU32::new(0);
static RACE_VALUE: std::sync::Mutex<&'static str> = std::sync::Mutex::new("v1");

/// Reads the "database", then (first run only) waits for the test to update and invalidate.
#[cached(ttl = 300, skip(barrier), tags = [format!("t4:doc:{id}")])]
fn document(id: u64, barrier: &Option<Arc<Barrier>>) -> &'static str {
    let value = *RACE_VALUE.lock().unwrap();
    if RACE_LOADS.fetch_add(1, Ordering::SeqCst) == 0
        && let Some(barrier) = barrier
    {
        barrier.wait(); // read done
        barrier.wait(); // update and invalidation done
    }
    let _ = id;
    value
}

/// Regression guard for the delete-then-stale-fill race: the load reads v1, the update writes
/// v2 and invalidates the tag, the load finishes; the next call must return v2.
#[test]
fn a_load_that_started_before_a_tag_invalidation_is_not_served_after_it() {
    let barrier = Arc::new(Barrier::new(2));
    let loader = {
        let barrier = Some(Arc::clone(&barrier));
        std::thread::spawn(move || document(1, &barrier))
    };
    barrier.wait();
    *RACE_VALUE.lock().unwrap() = "v2";
    invalidate_tag("t4:doc:1");
    barrier.wait();
    assert_eq!(loader.join().unwrap(), "v1", "the racing caller gets what it read");
    assert_eq!(document(1, &None), "v2");
    assert_eq!(RACE_LOADS.load(Ordering::SeqCst), 2);
}

static PUT_LOADS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 300, tags = [format!("t5:user:{id}"), format!("t5:org:{org}")], skip(org))]
fn user_name(id: u64, org: u32) -> String {
    PUT_LOADS.fetch_add(1, Ordering::SeqCst);
    format!("user {id} of {org}")
}

#[test]
fn put_entries_carry_their_tags() {
    // `put` takes the key and what the tags name (`org`, although it is not in the key).
    user_name::put(&7, &3, "renamed".to_owned());
    assert_eq!(user_name(7, 3), "renamed");
    invalidate_tag("t5:org:3");
    assert_eq!(user_name(7, 3), "user 7 of 3");
    assert_eq!(PUT_LOADS.load(Ordering::SeqCst), 1);
}
