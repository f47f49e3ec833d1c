//! Invalidation by tag: a product update drops exactly the cached values that depend on it.
//!
//! Products, a category listing and a search are cached; each entry carries tags (the product,
//! its category, and for list results every product they contain). `update_price` is marked
//! `#[invalidate]`: after it succeeds, only what mentions that product is reloaded.
//!
//! Run: `cargo run --example tags`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};

use memo_runtime::{cached, invalidate};

#[derive(Clone, Debug)]
struct Product {
    id: u64,
    name: &'static str,
    category: &'static str,
    price_cents: u64,
}

/// The "database".
static DB: LazyLock<Mutex<BTreeMap<u64, Product>>> = LazyLock::new(|| {
    let rows = [
        (1, "kettle", "kitchen", 2_500),
        (2, "toaster", "kitchen", 3_900),
        (3, "lamp", "living", 4_200),
        (4, "rug", "living", 9_900),
    ];
    Mutex::new(
        rows.into_iter()
            .map(|(id, name, category, price_cents)| (id, Product { id, name, category, price_cents }))
            .collect(),
    )
});
static QUERIES: AtomicU64 = AtomicU64::new(0);

fn query<T>(f: impl FnOnce(&BTreeMap<u64, Product>) -> T) -> T {
    QUERIES.fetch_add(1, Ordering::SeqCst);
    f(&DB.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
}

fn product_tags(products: &[Product]) -> impl Iterator<Item = String> + '_ {
    products.iter().map(|p| format!("product:{}", p.id))
}

#[cached(ttl = "10m", tags = [format!("product:{id}")])]
fn product(id: u64) -> Option<Product> {
    query(|db| db.get(&id).cloned())
}

#[cached(ttl = "10m", tags = [format!("category:{category}")], tags_from = |list: &Vec<Product>| product_tags(list))]
fn category(category: &str) -> Vec<Product> {
    query(|db| db.values().filter(|p| p.category == category).cloned().collect())
}

#[cached(ttl = "1m", tags = ["search"], tags_from = |found: &Vec<Product>| product_tags(found))]
fn search(max_price_cents: u64) -> Vec<Product> {
    query(|db| db.values().filter(|p| p.price_cents <= max_price_cents).cloned().collect())
}

#[invalidate(tags = [format!("product:{id}")])]
fn update_price(id: u64, price_cents: u64) -> Result<(), String> {
    let mut db = DB.lock().map_err(|_| "database poisoned".to_owned())?;
    let product = db.get_mut(&id).ok_or_else(|| format!("no product {id}"))?;
    product.price_cents = price_cents;
    Ok(())
}

/// Reads everything the page shows and reports how many queries that took.
fn render(label: &str) {
    let before = QUERIES.load(Ordering::SeqCst);
    let lamp = product(3).map(|p| p.price_cents);
    let kettle = product(1).map(|p| p.price_cents);
    let kitchen: Vec<_> = category("kitchen").iter().map(|p| (p.name, p.price_cents)).collect();
    let living: Vec<_> = category("living").iter().map(|p| (p.name, p.price_cents)).collect();
    let cheap: Vec<_> = search(4_000).iter().map(|p| p.name).collect();
    let queries = QUERIES.load(Ordering::SeqCst) - before;
    println!("{label:<36} queries {queries}");
    println!("    lamp {lamp:?}, kettle {kettle:?}");
    println!("    kitchen {kitchen:?}");
    println!("    living  {living:?}");
    println!("    under 40.00: {cheap:?}");
}

fn main() -> Result<(), String> {
    render("first render (cold)");
    render("second render (all cached)");

    update_price(3, 3_500)?; // the lamp: in `living`, and now under 40.00 … but the search
    // cached before did not contain it, so only `product:3` entries are dropped.
    render("after the lamp's price change");

    update_price(2, 1_900)?; // the toaster: in `kitchen` and in the cached search result
    render("after the toaster's price change");

    match update_price(99, 1) {
        Err(e) => println!("failed update ({e}) invalidated nothing"),
        Ok(()) => println!("unexpected: product 99 exists"),
    }
    render("after the failed update");

    println!("\nthe search result is tagged with the products it contains; a product that joins a");
    println!("result it was not in reaches it when the search's 1 minute ttl ends, or with");
    println!("memo_runtime::invalidate_tag(\"search\").");
    for stats in [product::stats(), category::stats(), search::stats()] {
        println!(
            "{:<20} loads {:>2}  hits {:>2}  invalidated by tag {}",
            stats.name.rsplit("::").next().unwrap_or_default(),
            stats.loads,
            stats.hits,
            stats.invalidations.tags
        );
    }
    Ok(())
}
