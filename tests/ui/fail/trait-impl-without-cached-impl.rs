use memo_runtime::cached;

trait Repo {
    fn price(&self, id: u64) -> u64;
}

struct Pg;

// The handles of a method in a trait impl need `#[cached_impl]` on the impl block.
impl Repo for Pg {
    #[cached(ttl = 60, skip(self))]
    fn price(&self, id: u64) -> u64 {
        id
    }
}

fn main() {}
