use memo_runtime::cached;

#[cached(ttl = 60)]
struct Price(u64);

fn main() {}
