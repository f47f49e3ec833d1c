use memo_runtime::cached;

#[cached(ttl = 60, fleet_single_flight)]
async fn price(id: u64) -> u64 {
    id
}

#[cached(ttl = 60, distributed, lock_ttl = "2s")]
async fn stock(id: u64) -> u64 {
    id
}

fn main() {}
