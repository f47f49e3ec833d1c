use memo_runtime::cached;

// An `impl Trait` argument can be left out of the key (`skip`), not be part of it.
#[cached(ttl = 60)]
fn describe(value: impl std::fmt::Debug) -> String {
    format!("{value:?}")
}

fn main() {}
