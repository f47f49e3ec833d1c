use memo_runtime::cached;

#[cached(ttl = 60, tags = [format!("product:{}", product_id)])]
fn price(id: u64) -> u64 {
    id
}

fn main() {}
