use memo_runtime::cached;

#[cached(ttl = 60, distributed)]
fn price(id: u64) -> u64 {
    id
}

fn main() {}
