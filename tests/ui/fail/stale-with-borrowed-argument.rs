use memo_runtime::cached;

struct Db;

#[cached(ttl = 60, stale = 30, skip(db))]
fn price(db: &Db, id: u64) -> u64 {
    let _ = db;
    id
}

fn main() {}
