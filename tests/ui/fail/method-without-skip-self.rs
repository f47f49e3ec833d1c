use memo_runtime::cached;

struct Repo;

impl Repo {
    #[cached(ttl = 60)]
    fn price(&self, id: u64) -> u64 {
        id
    }
}

fn main() {}
