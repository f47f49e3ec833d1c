use memo_runtime::cached;

#[derive(Clone, PartialEq)]
struct Filter {
    min_price: f64,
}

#[cached(ttl = 60)]
fn search(page: u32, filter: Filter) -> Vec<u64> {
    let _ = (page, filter.min_price);
    Vec::new()
}

fn main() {}
