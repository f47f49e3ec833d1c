use std::collections::HashMap;

use memo_runtime::cached;

#[derive(Clone)]
struct Db;

#[derive(Clone)]
struct Product {
    name: String,
}

/// Keys by slice, another parameter cloned per run, a `Result`.
#[cached(batch, ttl = "5m", jitter = "30s", negative_ttl = "10s", capacity = 10_000, name = "products", tags_from = |p: &Product| [format!("product:{}", p.name)])]
pub async fn products(ids: &[u64], db: Db) -> Result<HashMap<u64, Product>, std::io::Error> {
    let _ = db;
    Ok(ids.iter().map(|&id| (id, Product { name: id.to_string() })).collect())
}

/// Keys by value, sync, a plain map.
#[cached(batch, ttl = 60)]
fn lengths(mut words: Vec<String>) -> HashMap<String, usize> {
    words.dedup();
    words.into_iter().map(|w| (w.clone(), w.len())).collect()
}

/// Keys by reference to a `Vec`, an early return.
#[cached(batch, max_bytes = "1MiB")]
fn doubled(ids: &Vec<u32>) -> HashMap<u32, u64> {
    if ids.is_empty() {
        return HashMap::new();
    }
    ids.iter().map(|&id| (id, u64::from(id) * 2)).collect()
}

fn main() {
    let _ = lengths(vec!["a".into()]);
    let _ = doubled(&vec![1, 2]);
    let _ = products(&[1], Db);
    lengths::put(&"b".to_string(), 1);
    let _ = doubled::invalidate(&1);
    products::invalidate_all();
    let _ = products::stats().load_time.p50;
    let _ = Product { name: String::new() }.name;
}

#[allow(dead_code)]
async fn one_key() {
    let _: Result<Option<Product>, std::io::Error> = products::one(1, Db).await;
    let _: Option<usize> = lengths::one("a".to_string());
}

/// Stale values served while one load reloads them, early refresh, keys by slice, owned
/// parameters.
#[cached(batch, ttl = 60, stale = "30s", early_refresh = 1.0, tags_from = |p: &Product| [format!("product:{}", p.name)])]
pub async fn stale_products(ids: &[u64], db: Db) -> Result<HashMap<u64, Product>, std::io::Error> {
    let _ = db;
    Ok(ids.iter().map(|&id| (id, Product { name: id.to_string() })).collect())
}
