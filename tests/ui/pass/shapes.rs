//! Signatures `#[cached]` accepts: every one of these must compile.

use std::sync::Arc;

use memo_runtime::cached;

#[derive(Clone, PartialEq, Eq, Hash)]
struct UserId(u64);

struct Db;

#[cached]
fn no_arguments() -> u64 {
    1
}

#[cached(ttl = "1h30m", jitter = "5m", negative_ttl = "250ms", capacity = 1_000, name = "users", version = 3, skip(db))]
fn every_setting(id: &UserId, region: &str, tags: &[String], db: &Db) -> Option<Arc<String>> {
    let _ = (id, region, tags, db);
    None
}

#[cached(ttl = 60, key = format!("{}:{}", id.0, region))]
async fn explicit_key<'a>(id: &'a UserId, region: &'a str, mut attempts: u32) -> Result<u64, std::io::Error> {
    attempts += 1;
    Ok(id.0 + u64::from(attempts))
}

#[cached(ttl = 60, skip(db), crate = memo_runtime)]
pub(crate) fn crate_override(db: &Db, id: u64) -> u64 {
    let _ = db;
    id
}

struct Service {
    region: String,
}

impl Service {
    #[cached(ttl = 60, skip(self))]
    async fn method(&self, id: u64) -> u64 {
        id + self.region.len() as u64
    }

    #[cached(ttl = 60, key = (self.region.clone(), id))]
    fn keyed_by_instance(self: Arc<Self>, id: u64) -> u64 {
        id
    }

    #[cached(ttl = 60, skip(self))]
    fn by_value(self, id: u64) -> u64 {
        id
    }
}

fn main() {
    let _ = no_arguments();
    let _ = every_setting(&UserId(1), "eu", &[], &Db);
    let _ = explicit_key(&UserId(1), "eu", 0);
    let _ = crate_override(&Db, 1);
    let _ = no_arguments::stats();
    let _ = every_setting::invalidate(&UserId(1), "eu", &[]);
    explicit_key::invalidate_all();
    crate_override::put(&1, 2);
    let service = Arc::new(Service { region: "eu".into() });
    let _ = service.method(1);
    let _ = service.clone().keyed_by_instance(1);
    let _ = service.keyed_by_instance_invalidate(&1);
    let _ = Service::method_stats();
    let _ = Service { region: String::new() }.by_value(1);
    let _ = every_setting::refresh(&UserId(1), "eu", &[], &Db);
    let _ = service.method_refresh(1);
    let _: u64 = service.clone().keyed_by_instance_refresh(1);
    let _: u64 = Service { region: String::new() }.by_value_refresh(1);
}
