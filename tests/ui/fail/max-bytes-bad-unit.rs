use memo_runtime::cached;

#[cached(ttl = 60, max_bytes = "64mb")]
fn page(id: u64) -> String {
    id.to_string()
}

fn main() {}
