use std::collections::HashMap;

use memo_runtime::cached;

/// Stale keys reload after the call: the other parameters are owned.
#[cached(batch, ttl = 60, stale = "10s")]
async fn products(ids: Vec<u64>, prefix: &String) -> HashMap<u64, String> {
    ids.into_iter().map(|id| (id, format!("{prefix}{id}"))).collect()
}

/// Reloads run on a task: async only for now.
#[cached(batch, ttl = 60, stale = "10s")]
fn names(ids: Vec<u64>) -> HashMap<u64, String> {
    ids.into_iter().map(|id| (id, id.to_string())).collect()
}

fn main() {}
