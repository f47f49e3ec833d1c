use std::collections::HashMap;

use memo_runtime::cached;

/// Stale keys reload after the call: the other parameters are owned.
#[cached(batch, ttl = 60, stale = "10s")]
async fn products(ids: Vec<u64>, prefix: &String) -> HashMap<u64, String> {
    ids.into_iter().map(|id| (id, format!("{prefix}{id}"))).collect()
}

fn main() {}
