use memo_runtime::cached;

#[cached(ttl = 60)]
fn describe<T: std::fmt::Debug>(value: T) -> String {
    format!("{value:?}")
}

fn main() {}
