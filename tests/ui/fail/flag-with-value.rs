use memo_runtime::cached;

struct Repo;

impl Repo {
    #[cached(ttl = 60, in_impl = true)]
    fn price(id: u64) -> u64 {
        id
    }
}

fn main() {}
