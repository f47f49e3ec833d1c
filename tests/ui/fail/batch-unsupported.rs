use std::collections::HashMap;

use memo_runtime::cached;

#[cached(batch, ttl = 60, timeout = "1s", request_consistent)]
async fn products(ids: Vec<u64>) -> HashMap<u64, String> {
    ids.into_iter().map(|id| (id, id.to_string())).collect()
}

fn main() {}
