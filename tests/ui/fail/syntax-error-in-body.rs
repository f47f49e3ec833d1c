use memo_runtime::cached;

#[cached(ttl = 60)]
fn price(id: u64) -> u64 {
    let doubled = id * 2
    doubled
}

fn main() {}
