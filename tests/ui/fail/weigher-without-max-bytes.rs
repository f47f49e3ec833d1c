use memo_runtime::cached;

#[cached(ttl = 60, weigher = |page: &String| page.len())]
fn page(id: u64) -> String {
    id.to_string()
}

fn main() {}
