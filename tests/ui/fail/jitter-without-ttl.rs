use memo_runtime::cached;

#[cached(jitter = 10)]
fn price(id: u64) -> u64 {
    id
}

fn main() {}
