//! The typed handle: `invalidate`, `invalidate_all`, `put` and `stats`, for free functions
//! and methods, with every way of forming a key.

use std::sync::atomic::{AtomicU32, Ordering};

use memo_runtime::cached;

static PRICE_LOADS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 300)]
fn price(id: u64, region: &str) -> u64 {
    PRICE_LOADS.fetch_add(1, Ordering::SeqCst);
    id * 10 + region.len() as u64
}

#[test]
fn invalidate_drops_one_key_and_invalidate_all_drops_every_key() {
    assert_eq!(price(1, "eu"), 12);
    assert_eq!(price(2, "eu"), 22);
    assert_eq!(price(1, "eu"), 12);
    assert_eq!(PRICE_LOADS.load(Ordering::SeqCst), 2);

    assert!(price::invalidate(&1, "eu"));
    assert!(!price::invalidate(&1, "eu"), "already gone");
    price(1, "eu");
    price(2, "eu");
    assert_eq!(PRICE_LOADS.load(Ordering::SeqCst), 3, "only key 1 reloaded");

    price::invalidate_all();
    price(1, "eu");
    price(2, "eu");
    assert_eq!(PRICE_LOADS.load(Ordering::SeqCst), 5);
    let stats = price::stats();
    assert_eq!(stats.entries, 2);
    assert_eq!((stats.invalidations.keys, stats.invalidations.all, stats.invalidations.tags), (2, 1, 0));
    assert!(stats.name.ends_with("handle::price"), "{}", stats.name);
}

#[derive(Clone, Debug, PartialEq)]
struct Product {
    id: u64,
    name: String,
}

static PRODUCT_LOADS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = "5m", negative_ttl = "10s")]
fn product(id: u64) -> Result<Option<Product>, String> {
    PRODUCT_LOADS.fetch_add(1, Ordering::SeqCst);
    Ok(None)
}

#[test]
fn put_writes_through_and_skips_errors() {
    let updated = Product { id: 5, name: "renamed".into() };
    product::put(&5, Ok(Some(updated.clone())));
    assert_eq!(product(5), Ok(Some(updated)));
    assert_eq!(PRODUCT_LOADS.load(Ordering::SeqCst), 0, "answered from the put value");

    product::put(&6, Err("not stored".into()));
    assert_eq!(product(6), Ok(None));
    assert_eq!(PRODUCT_LOADS.load(Ordering::SeqCst), 1, "an error put stores nothing");
}

struct Repo {
    tenant: u32,
    calls: AtomicU32,
}

impl Repo {
    #[cached(ttl = 60, skip(self))]
    fn shared_name(&self, id: u32) -> String {
        self.calls.fetch_add(1, Ordering::SeqCst);
        format!("name {id}")
    }

    #[cached(ttl = 60, key = (self.tenant, id))]
    fn tenant_name(&self, id: u32) -> String {
        self.calls.fetch_add(1, Ordering::SeqCst);
        format!("tenant {} name {id}", self.tenant)
    }

    #[cached(in_impl, ttl = 60)]
    fn associated(id: u32) -> u32 {
        id + 1
    }
}

#[test]
fn methods_share_one_cache_or_key_by_instance() {
    let a = Repo { tenant: 1, calls: AtomicU32::new(0) };
    let b = Repo { tenant: 2, calls: AtomicU32::new(0) };
    assert_eq!(a.shared_name(1), "name 1");
    assert_eq!(b.shared_name(1), "name 1");
    assert_eq!(
        a.calls.load(Ordering::SeqCst) + b.calls.load(Ordering::SeqCst),
        1,
        "skip(self): one cache for all instances"
    );

    assert_eq!(a.tenant_name(1), "tenant 1 name 1");
    assert_eq!(b.tenant_name(1), "tenant 2 name 1");
    assert_eq!(a.tenant_name(1), "tenant 1 name 1");
    assert_eq!(Repo::tenant_name_stats().loads, 2, "key = (self.tenant, id) keys by instance");
    assert!(a.tenant_name_invalidate(&1));
    assert!(!a.tenant_name_invalidate(&1));
    assert!(b.tenant_name_invalidate(&1));

    assert!(Repo::shared_name_invalidate(&1));
    assert_eq!(Repo::associated(1), 2);
    assert_eq!(Repo::associated_stats().loads, 1);
    assert!(Repo::tenant_name_stats().name.ends_with("Repo::tenant_name"));
}

trait FromRow: Sized {
    fn from_row(id: u64) -> Self;
}

#[derive(Clone, Debug, PartialEq)]
struct User(u64);

#[derive(Clone, Debug, PartialEq)]
struct Order(u64);

impl FromRow for User {
    fn from_row(id: u64) -> Self {
        User(id)
    }
}

impl FromRow for Order {
    fn from_row(id: u64) -> Self {
        Order(id + 1000)
    }
}

trait Db {
    fn queries(&self) -> &AtomicU32;
}

struct Pool(AtomicU32);

impl Db for Pool {
    fn queries(&self) -> &AtomicU32 {
        &self.0
    }
}

/// A generic loader with its database as an `impl Trait` left out of the key.
#[cached(ttl = 300, skip(db))]
fn load<T: FromRow + Clone + Send + Sync>(db: &impl Db, id: u64) -> T {
    db.queries().fetch_add(1, Ordering::SeqCst);
    T::from_row(id)
}

#[test]
fn a_generic_function_keeps_one_cache_per_instantiation_with_a_handle_for_each() {
    let db = Pool(AtomicU32::new(0));
    assert_eq!(load::<User>(&db, 1), User(1));
    assert_eq!(load::<Order>(&db, 1), Order(1001), "the same key, another type: another cache");
    assert_eq!(load::<User>(&db, 1), User(1));
    assert_eq!(load::<Order>(&db, 1), Order(1001));
    assert_eq!(db.queries().load(Ordering::SeqCst), 2, "one load per instantiation");
    assert_eq!((load::<User>::stats().hits, load::<Order>::stats().hits), (1, 1));
    assert!(load::<User>::stats().name.ends_with("load<handle::User>"), "{}", load::<User>::stats().name);

    assert!(load::<User>::invalidate(&1));
    assert_eq!(load::<Order>(&db, 1), Order(1001), "the other instantiation keeps its entry");
    assert_eq!(db.queries().load(Ordering::SeqCst), 2);
    assert_eq!(load::<User>(&db, 1), User(1));
    assert_eq!(db.queries().load(Ordering::SeqCst), 3, "reloaded after invalidation");

    load::<Order>::put(&2, Order(7));
    assert_eq!(load::<Order>(&db, 2), Order(7), "written through");
}
