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
