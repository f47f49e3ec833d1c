use memo_runtime::cached;

#[cached(ttl = "5x")]
fn price(id: u64) -> u64 {
    id
}

fn main() {}
