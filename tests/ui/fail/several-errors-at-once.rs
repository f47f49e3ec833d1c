use memo_runtime::cached;

struct Repo;

impl Repo {
    #[cached(tll = 60, capacity = 0, skip(db))]
    fn price(&self, id: &mut u64) -> u64 {
        *id
    }
}

fn main() {}
