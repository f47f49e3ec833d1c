use std::collections::HashMap;

use memo_runtime::cached;

struct Repo;

impl Repo {
    #[cached(batch, ttl = 60)]
    fn names(&self, ids: &[u64]) -> HashMap<u64, String> {
        ids.iter().map(|id| (*id, id.to_string())).collect()
    }
}

#[cached(batch, ttl = 60)]
fn generic<K: Clone + std::hash::Hash + Eq + Send + Sync + 'static>(ids: Vec<K>) -> HashMap<K, u8> {
    ids.into_iter().map(|id| (id, 0)).collect()
}

fn main() {}
