use memo_runtime::cached;

#[cached(tll = 60)]
fn price(id: u64) -> u64 {
    id
}

fn main() {}
