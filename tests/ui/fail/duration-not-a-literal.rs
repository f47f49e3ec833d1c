use memo_runtime::cached;

const FIVE_MINUTES: u64 = 300;

#[cached(ttl = FIVE_MINUTES)]
fn price(id: u64) -> u64 {
    id
}

fn main() {}
