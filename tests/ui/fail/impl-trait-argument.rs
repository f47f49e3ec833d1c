use memo_runtime::cached;

#[cached(ttl = 60)]
fn describe(value: impl std::fmt::Debug) -> String {
    format!("{value:?}")
}

fn main() {}
