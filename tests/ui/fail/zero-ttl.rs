use memo_runtime::cached;

#[cached(ttl = 0)]
fn price(id: u64) -> u64 {
    id
}

fn main() {}
