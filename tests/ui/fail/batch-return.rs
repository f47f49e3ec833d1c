use memo_runtime::cached;

#[cached(batch, ttl = 60)]
fn names(ids: &[u64]) -> Vec<String> {
    ids.iter().map(u64::to_string).collect()
}

fn main() {}
