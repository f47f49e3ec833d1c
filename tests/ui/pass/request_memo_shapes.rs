//! Signatures `#[request_memo]` and `#[cached(request_consistent)]` accept.

use memo_runtime::{cached, request_memo};

struct Db;

#[request_memo(skip(db))]
async fn user(db: &Db, id: u64, region: &str) -> Result<Option<String>, std::io::Error> {
    let _ = db;
    Ok(Some(format!("{id}@{region}")))
}

#[request_memo(key = id % 10, crate = memo_runtime)]
fn bucket(id: u64) -> u64 {
    id % 10
}

#[cached(ttl = 60, request_consistent)]
fn consistent(id: u64) -> u64 {
    id
}

struct Service;

impl Service {
    #[request_memo(skip(self))]
    async fn method(&self, id: u64) -> u64 {
        id
    }
}

fn main() {
    let _ = user(&Db, 1, "eu");
    let _ = bucket(1);
    let _ = consistent(1);
    let _ = Service.method(1);
}
