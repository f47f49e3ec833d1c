use memo_runtime::cached;

#[cached(ttl = 60, tags = "products")]
fn price(id: u64) -> u64 {
    id
}

fn main() {}
