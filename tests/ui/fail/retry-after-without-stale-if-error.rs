use memo_runtime::cached;

#[cached(ttl = 60, retry_after = 5)]
fn price(id: u64) -> u64 {
    id
}

fn main() {}
