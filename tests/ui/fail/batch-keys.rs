use std::collections::HashMap;

use memo_runtime::cached;

#[cached(batch, ttl = 60)]
fn product(id: u64) -> HashMap<u64, String> {
    HashMap::from([(id, id.to_string())])
}

#[cached(batch, ttl = 60)]
fn pairs((a, b): (Vec<u64>, u64)) -> HashMap<u64, u64> {
    a.into_iter().map(|k| (k, b)).collect()
}

#[cached(batch, ttl = 60)]
fn mismatched(ids: &[u32]) -> HashMap<u64, String> {
    ids.iter().map(|id| (u64::from(*id), id.to_string())).collect()
}

fn main() {}
