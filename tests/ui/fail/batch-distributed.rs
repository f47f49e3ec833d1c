use std::collections::HashMap;

use memo_runtime::cached;

#[derive(Clone)]
struct Product {
    name: String,
}

/// The value type does not serialize: reported at it.
#[cached(batch, ttl = 60, distributed)]
async fn products(ids: Vec<u64>) -> HashMap<u64, Product> {
    ids.into_iter().map(|id| (id, Product { name: id.to_string() })).collect()
}

/// Reading the L2 is asynchronous.
#[cached(batch, ttl = 60, distributed)]
fn names(ids: Vec<u64>) -> HashMap<u64, String> {
    ids.into_iter().map(|id| (id, id.to_string())).collect()
}

fn main() {}
