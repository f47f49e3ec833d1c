//! `#[cached]` and `#[request_memo]` on the methods of trait impls, called as services hold
//! them: through `Arc<dyn Trait>` (with `#[async_trait]`, in either attribute order), through
//! generics (native `async fn` in traits) and through `&dyn Trait` (sync methods). Each test
//! has its own trait and type: a method's cache is shared by every value of the type.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use memo_runtime::{cached, cached_impl, request_memo};

#[derive(Debug, Clone, PartialEq)]
struct User {
    id: u64,
    name: String,
}

/// A repository behind a trait object, the usual shape of a service's data access.
#[async_trait]
trait Users: Send + Sync {
    async fn find(&self, id: u64) -> Option<User>;
    async fn by_name(&self, name: &str) -> Result<u64, String>;
}

struct PgUsers {
    queries: AtomicU32,
}

#[cached_impl]
#[async_trait]
impl Users for PgUsers {
    #[cached(ttl = "1m", skip(self), tags = [format!("trait-impls:user:{id}")])]
    async fn find(&self, id: u64) -> Option<User> {
        self.queries.fetch_add(1, Ordering::SeqCst);
        (id != 0).then(|| User { id, name: format!("user {id}") })
    }

    #[cached(ttl = "1m", skip(self))]
    async fn by_name(&self, name: &str) -> Result<u64, String> {
        self.queries.fetch_add(1, Ordering::SeqCst);
        name.strip_prefix("user ").and_then(|id| id.parse().ok()).ok_or_else(|| format!("no user {name:?}"))
    }
}

#[tokio::test]
async fn async_trait_methods_called_through_arc_dyn_are_cached_and_reach_their_handles() {
    let pg = Arc::new(PgUsers { queries: AtomicU32::new(0) });
    let users: Arc<dyn Users> = pg.clone();
    let first = users.find(7).await;
    assert_eq!(first, Some(User { id: 7, name: "user 7".into() }));
    assert_eq!(users.find(7).await, first, "a hit");
    assert_eq!(pg.queries.load(Ordering::SeqCst), 1, "one query for two calls");
    let stats = PgUsers::find_stats();
    assert_eq!((stats.hits, stats.misses, stats.loads), (1, 1, 1));

    assert!(PgUsers::find_invalidate(&7));
    users.find(7).await;
    assert_eq!(pg.queries.load(Ordering::SeqCst), 2, "invalidated by key: loaded again");

    memo_runtime::invalidate_tag("trait-impls:user:7");
    users.find(7).await;
    assert_eq!(pg.queries.load(Ordering::SeqCst), 3, "invalidated by tag: loaded again");

    let renamed = Some(User { id: 7, name: "renamed".into() });
    PgUsers::find_put(&7, renamed.clone());
    assert_eq!(users.find(7).await, renamed, "write-through");
    PgUsers::find_invalidate_all();
    users.find(7).await;
    assert_eq!(pg.queries.load(Ordering::SeqCst), 4, "invalidated all: loaded again");
    assert_eq!(pg.find_refresh(7).await, first, "refreshed: the source's value");
    assert_eq!(pg.queries.load(Ordering::SeqCst), 5, "a refresh loads");
    assert_eq!(users.find(7).await, first, "a hit on the refreshed value");
    assert_eq!(pg.queries.load(Ordering::SeqCst), 5);

    // A borrowed argument is keyed by its owned form; errors are not stored.
    assert_eq!(users.by_name("user 3").await, Ok(3));
    assert_eq!(users.by_name(&String::from("user 3")).await, Ok(3));
    assert!(users.by_name("nobody").await.is_err());
    assert!(users.by_name("nobody").await.is_err());
    assert_eq!(pg.queries.load(Ordering::SeqCst), 8, "one query for the hit pair, one per error");
    assert!(PgUsers::by_name_invalidate("user 3"));
}

/// Concurrent misses on one key through the trait object run the body once.
#[async_trait]
trait Prices: Send + Sync {
    async fn price(&self, id: u64) -> u64;
}

struct SlowPrices {
    loads: AtomicU32,
    release: tokio::sync::Notify,
}

#[async_trait]
#[cached_impl]
impl Prices for SlowPrices {
    #[cached(ttl = "1m", skip(self))]
    async fn price(&self, id: u64) -> u64 {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.release.notified().await;
        id * 100
    }
}

#[tokio::test]
async fn async_trait_outermost_works_alike_and_concurrent_misses_load_once() {
    let slow = Arc::new(SlowPrices { loads: AtomicU32::new(0), release: tokio::sync::Notify::new() });
    let prices: Arc<dyn Prices> = slow.clone();
    let callers: Vec<_> = (0..10)
        .map(|_| {
            let prices = prices.clone();
            tokio::spawn(async move { prices.price(4).await })
        })
        .collect();
    // Wait until every caller has missed (one leads, nine wait for it), then let the load end.
    while SlowPrices::price_stats().misses < 10 {
        tokio::task::yield_now().await;
    }
    slow.release.notify_waiters();
    for caller in callers {
        assert_eq!(caller.await.expect("caller"), 400);
    }
    assert_eq!(slow.loads.load(Ordering::SeqCst), 1, "one load for ten concurrent callers");
    assert_eq!(SlowPrices::price_stats().coalesced, 9);
}

/// Native `async fn` in a trait, called through a generic parameter.
trait Stock {
    async fn level(&self, sku: u32) -> u32;
}

struct Warehouse {
    counts: AtomicU32,
}

#[cached_impl]
impl Stock for Warehouse {
    #[cached(ttl = "1m", skip(self))]
    async fn level(&self, sku: u32) -> u32 {
        self.counts.fetch_add(1, Ordering::SeqCst);
        sku + 1
    }
}

async fn total(stock: &impl Stock, skus: &[u32]) -> u32 {
    let mut total = 0;
    for &sku in skus {
        total += stock.level(sku).await;
    }
    total
}

#[tokio::test]
async fn native_async_fn_in_trait_is_cached_through_generics() {
    let warehouse = Warehouse { counts: AtomicU32::new(0) };
    assert_eq!(total(&warehouse, &[1, 2, 1, 2, 3]).await, 2 + 3 + 2 + 3 + 4);
    assert_eq!(warehouse.counts.load(Ordering::SeqCst), 3, "one count per distinct sku");
    assert_eq!(Warehouse::level_stats().hits, 2);
}

/// A sync method, through `&dyn Trait`.
trait Rates {
    fn rate(&self, from: &str, to: &str) -> u32;
}

struct Bank {
    asks: AtomicU32,
}

#[cached_impl]
impl Rates for Bank {
    #[memo_runtime::cached(ttl = "1m", skip(self))]
    fn rate(&self, from: &str, to: &str) -> u32 {
        self.asks.fetch_add(1, Ordering::SeqCst);
        u32::try_from(from.len() * 10 + to.len()).unwrap_or(u32::MAX)
    }
}

#[test]
fn sync_method_called_through_dyn_ref_is_cached() {
    let bank = Bank { asks: AtomicU32::new(0) };
    let rates: &dyn Rates = &bank;
    assert_eq!(rates.rate("eur", "usd"), 33);
    assert_eq!(rates.rate("eur", "usd"), 33);
    assert_eq!(rates.rate("eur", "chf1"), 34);
    assert_eq!(bank.asks.load(Ordering::SeqCst), 2);
    assert_eq!(bank.rate_refresh("eur", "chf1"), 34);
    assert_eq!(bank.asks.load(Ordering::SeqCst), 3, "a refresh loads");
    assert!(Bank::rate_invalidate("eur", "usd"));
    assert_eq!(Bank::rate_stats().hits, 1);
}

/// `#[request_memo]` needs no `#[cached_impl]`: it has no handle.
#[async_trait]
trait Sessions: Send + Sync {
    async fn session(&self, token: &str) -> String;
}

struct Auth {
    checks: AtomicU32,
}

#[async_trait]
impl Sessions for Auth {
    #[request_memo(skip(self))]
    async fn session(&self, token: &str) -> String {
        self.checks.fetch_add(1, Ordering::SeqCst);
        format!("session for {token}")
    }
}

#[tokio::test]
async fn request_memo_on_an_async_trait_method_runs_once_per_request() {
    let auth = Arc::new(Auth { checks: AtomicU32::new(0) });
    let sessions: Arc<dyn Sessions> = auth.clone();
    for _ in 0..2 {
        let sessions = sessions.clone();
        memo_runtime::scope(async move {
            assert_eq!(sessions.session("t1").await, "session for t1");
            assert_eq!(sessions.session("t1").await, "session for t1");
        })
        .await;
    }
    assert_eq!(auth.checks.load(Ordering::SeqCst), 2, "once per request");
}

/// A change made elsewhere drops a trait-impl method's entries by naming the method.
#[async_trait]
trait Accounts: Send + Sync {
    async fn balance(&self, id: u64) -> u64;
    async fn statement(&self, id: u64, month: u8) -> String;
}

struct Ledger {
    reads: AtomicU32,
}

#[cached_impl]
#[async_trait]
impl Accounts for Ledger {
    #[cached(ttl = "1m", skip(self))]
    async fn balance(&self, id: u64) -> u64 {
        self.reads.fetch_add(1, Ordering::SeqCst);
        id * 10
    }

    #[cached(ttl = "1m", skip(self))]
    async fn statement(&self, id: u64, month: u8) -> String {
        self.reads.fetch_add(1, Ordering::SeqCst);
        format!("{id}/{month}")
    }
}

impl Ledger {
    #[memo_runtime::invalidate(entries = [Ledger::balance(id)], all = [Self::statement])]
    fn post(&self, id: u64, amount: u64) -> Result<u64, String> {
        Ok(id + amount) // an UPDATE
    }
}

#[tokio::test]
async fn invalidate_names_a_trait_impl_method_by_its_type() {
    let ledger = Arc::new(Ledger { reads: AtomicU32::new(0) });
    let accounts: Arc<dyn Accounts> = ledger.clone();
    accounts.balance(1).await;
    accounts.balance(2).await;
    accounts.statement(1, 3).await;
    assert_eq!(ledger.reads.load(Ordering::SeqCst), 3);
    assert_eq!(ledger.post(1, 5), Ok(6));
    accounts.balance(1).await;
    accounts.balance(2).await;
    accounts.statement(1, 3).await;
    assert_eq!(ledger.reads.load(Ordering::SeqCst), 5, "balance 1 and every statement reloaded");
    assert_eq!(Ledger::balance_stats().invalidations.keys, 1);
    assert_eq!(Ledger::statement_stats().invalidations.all, 1);
}
