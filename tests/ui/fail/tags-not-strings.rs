use memo_runtime::cached;

#[cached(ttl = 60, tags = [id])]
fn price(id: u64) -> u64 {
    id
}

fn main() {}
