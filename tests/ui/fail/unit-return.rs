use memo_runtime::cached;

#[cached(ttl = 60)]
fn warm(id: u64) {
    let _ = id;
}

fn main() {}
