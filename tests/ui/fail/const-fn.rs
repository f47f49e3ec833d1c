use memo_runtime::cached;

#[cached(ttl = 60)]
const fn double(x: u64) -> u64 {
    x * 2
}

fn main() {}
