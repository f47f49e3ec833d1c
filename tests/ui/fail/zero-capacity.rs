use memo_runtime::cached;

#[cached(ttl = 60, capacity = 0)]
fn price(id: u64) -> u64 {
    id
}

fn main() {}
