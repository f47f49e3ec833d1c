//! Generic free functions: one cache per instantiation, a handle generic over the same
//! parameters; `impl Trait` arguments left out of the key.

use memo_runtime::cached;

trait Db: Sync {
    fn row(&self, id: u64) -> String;
}

trait FromRow: Sized {
    fn from_row(row: String) -> Self;
}

#[derive(Clone)]
struct User(String);

impl FromRow for User {
    fn from_row(row: String) -> Self {
        User(row)
    }
}

#[cached(ttl = "5m", skip(db))]
async fn load<T: FromRow + Clone + Send + Sync>(db: &impl Db, id: u64) -> Result<T, String> {
    Ok(T::from_row(db.row(id)))
}

#[cached(ttl = 60, tags = [format!("echo:{value:?}")])]
fn echo<K>(value: K) -> Option<K>
where
    K: Clone + Eq + std::hash::Hash + std::fmt::Debug + Send + Sync,
{
    Some(value)
}

#[cached(ttl = 60, skip(db))]
fn count(db: &(impl Db + ?Sized), table: &str) -> usize {
    db.row(0).len() + table.len()
}

struct Pg;

impl Db for Pg {
    fn row(&self, id: u64) -> String {
        id.to_string()
    }
}

async fn use_them() {
    let _: Result<User, String> = load(&Pg, 1).await;
    let _: bool = load::<User>::invalidate(&1);
    load::<User>::put(&1, Ok(User("new".to_owned())));
    load::<User>::invalidate_all();
    let _: memo_runtime::CacheStats = load::<User>::stats();
    let _: Result<User, String> = load::<User>::refresh(&Pg, 1).await;
    let _: Option<u8> = echo::<u8>::refresh(1);
    let _: Option<u8> = echo(1_u8);
    let _: bool = echo::<u8>::invalidate(&1);
    let _: usize = count(&Pg, "users");
    let _: bool = count::invalidate("users");
    let _: usize = count::refresh(&Pg, "users");
}

fn main() {
    let _ = use_them;
}
