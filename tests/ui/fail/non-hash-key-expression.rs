use memo_runtime::cached;

#[derive(Clone, PartialEq)]
struct Filter {
    min_price: f64,
}

#[cached(ttl = 60, key = filter.clone())]
fn search(filter: &Filter) -> Vec<u64> {
    let _ = filter.min_price;
    Vec::new()
}

fn main() {}
