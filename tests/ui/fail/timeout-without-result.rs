use memo_runtime::cached;

#[cached(ttl = 60, timeout = "250ms")]
async fn price(id: u64) -> u64 {
    id
}

fn main() {}
