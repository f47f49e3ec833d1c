use memo_runtime::cached;

#[cached(ttl = 60, early_refresh = -1)]
fn price(id: u64) -> u64 {
    id
}

fn main() {}
