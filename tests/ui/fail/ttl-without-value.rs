use memo_runtime::cached;

#[cached(ttl)]
fn price(id: u64) -> u64 {
    id
}

fn main() {}
