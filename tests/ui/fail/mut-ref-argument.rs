use memo_runtime::cached;

#[cached(ttl = 60)]
fn next(counter: &mut u64) -> u64 {
    *counter += 1;
    *counter
}

fn main() {}
