//! `#[cached]` and `#[request_memo]` on the methods of trait impls, with the handles that
//! `#[cached_impl]` puts in an inherent impl of the type.

use std::sync::Arc;

use async_trait::async_trait;
use memo_runtime::{cached, cached_impl, request_memo};

// `#[async_trait]`, in either order with `#[cached_impl]`, called through `Arc<dyn Trait>`.
#[async_trait]
trait Users: Send + Sync {
    async fn find(&self, id: u64) -> Option<String>;
    async fn session(&self, token: &str) -> String;
}

struct PgUsers;

#[cached_impl]
#[async_trait]
impl Users for PgUsers {
    #[cached(ttl = "1m", skip(self), tags = [format!("user:{id}")])]
    async fn find(&self, id: u64) -> Option<String> {
        Some(format!("user {id}"))
    }

    #[request_memo(skip(self))]
    async fn session(&self, token: &str) -> String {
        token.to_owned()
    }
}

struct CachedUsers;

#[async_trait]
#[cached_impl]
impl Users for CachedUsers {
    #[cached(ttl = "1m", key = id)]
    async fn find(&self, id: u64) -> Option<String> {
        Some(format!("user {id}"))
    }

    #[request_memo(skip(self))]
    async fn session(&self, token: &str) -> String {
        token.to_owned()
    }
}

// Native `async fn` in a trait, with a generic implementing type.
trait Stock {
    async fn level(&self, sku: u32) -> u32;
}

struct Warehouse<T>(T);

#[cached_impl]
impl<T: Send + Sync + 'static> Stock for Warehouse<T> {
    #[cached(ttl = 60, skip(self))]
    async fn level(&self, sku: u32) -> u32 {
        sku
    }
}

// A sync method, with a borrowed argument.
trait Rates {
    fn rate(&self, currency: &str) -> u32;
}

struct Bank;

#[cached_impl]
impl Rates for Bank {
    #[memo_runtime::cached(ttl = 60, skip(self))]
    fn rate(&self, currency: &str) -> u32 {
        u32::try_from(currency.len()).unwrap_or(0)
    }
}

// `#[request_memo]` alone needs no `#[cached_impl]`.
trait Names {
    fn name(&self, id: u64) -> String;
}

impl Names for Bank {
    #[request_memo(skip(self))]
    fn name(&self, id: u64) -> String {
        id.to_string()
    }
}

async fn use_them(users: Arc<dyn Users>) {
    let _: Option<String> = users.find(1).await;
    let _: String = users.session("t").await;
    let _: bool = PgUsers::find_invalidate(&1);
    PgUsers::find_put(&1, Some("new".to_owned()));
    PgUsers::find_invalidate_all();
    let _: memo_runtime::CacheStats = CachedUsers::find_stats();
    let _: u32 = Warehouse(()).level(3).await;
    let _: bool = Warehouse::<()>::level_invalidate(&3);
    let rates: &dyn Rates = &Bank;
    let _: u32 = rates.rate("eur");
    let _: bool = Bank::rate_invalidate("eur");
    let _: String = Bank.name(1);
}

fn main() {
    let _ = use_them;
}
