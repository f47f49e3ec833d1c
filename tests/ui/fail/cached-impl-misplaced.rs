use memo_runtime::cached_impl;

#[cached_impl]
fn price(id: u64) -> u64 {
    id
}

trait Repo {
    fn price(&self, id: u64) -> u64;
}

struct Pg;

#[cached_impl(ttl = 60)]
impl Repo for Pg {
    fn price(&self, id: u64) -> u64 {
        id
    }
}

fn main() {}
