use memo_runtime::cached;

#[cached(stale = 30)]
fn price(id: u64) -> u64 {
    id
}

fn main() {}
