//! Outcome classification by the resolved return type: aliases of `Result` and `Option` are
//! seen through, errors are never stored, error types need not be `Clone`, `Send` or `Sync`.

use std::sync::atomic::{AtomicU32, Ordering};

use memo_runtime::cached;

#[derive(Debug, PartialEq)]
struct DbError(&'static str);

type DbResult<T> = Result<T, DbError>;

/// An alias with a default error type, the shape of `anyhow::Result<T>`.
mod anyhow_like {
    #[derive(Debug)]
    pub struct Error(pub String);
    pub type Result<T, E = Error> = std::result::Result<T, E>;
}

static ALIAS_LOADS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 60, negative_ttl = 60)]
fn by_alias(id: u32) -> DbResult<Option<u32>> {
    ALIAS_LOADS.fetch_add(1, Ordering::SeqCst);
    match id {
        0 => Err(DbError("down")),
        1 => Ok(None),
        _ => Ok(Some(id)),
    }
}

#[test]
fn a_result_alias_is_classified_as_a_result() {
    assert_eq!(by_alias(0), Err(DbError("down")));
    assert_eq!(by_alias(0), Err(DbError("down")));
    assert_eq!(ALIAS_LOADS.load(Ordering::SeqCst), 2, "errors are never stored");
    assert_eq!(by_alias(1), Ok(None));
    assert_eq!(by_alias(1), Ok(None));
    assert_eq!(by_alias(2), Ok(Some(2)));
    assert_eq!(by_alias(2), Ok(Some(2)));
    assert_eq!(ALIAS_LOADS.load(Ordering::SeqCst), 4);
    let stats = by_alias::stats();
    assert_eq!((stats.load_errors, stats.negative_hits, stats.hits), (2, 1, 2));
}

static ANYHOW_LOADS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 60)]
async fn anyhow_shaped(fail: bool) -> anyhow_like::Result<String> {
    ANYHOW_LOADS.fetch_add(1, Ordering::SeqCst);
    if fail { Err(anyhow_like::Error("boom".into())) } else { Ok("fine".into()) }
}

#[tokio::test]
async fn an_alias_with_a_default_error_is_a_result() {
    assert_eq!(anyhow_shaped(true).await.unwrap_err().0, "boom");
    assert_eq!(anyhow_shaped(true).await.unwrap_err().0, "boom");
    assert_eq!(anyhow_shaped(false).await.unwrap(), "fine");
    assert_eq!(anyhow_shaped(false).await.unwrap(), "fine");
    assert_eq!(ANYHOW_LOADS.load(Ordering::SeqCst), 3);
}

type MaybeName = Option<String>;
static OPTION_LOADS: AtomicU32 = AtomicU32::new(0);

#[cached(ttl = 60)]
fn option_alias(id: u32) -> MaybeName {
    OPTION_LOADS.fetch_add(1, Ordering::SeqCst);
    (id > 0).then(|| id.to_string())
}

#[test]
fn an_option_alias_is_negative_on_none() {
    option_alias(0);
    option_alias(0);
    assert_eq!(OPTION_LOADS.load(Ordering::SeqCst), 2, "None is not stored without negative_ttl");
    option_alias(1);
    option_alias(1);
    assert_eq!(OPTION_LOADS.load(Ordering::SeqCst), 3);
}

/// Neither `Clone`, `Send` nor `Sync`: only `Ok` values are stored and shared.
#[derive(Debug)]
struct LocalError(std::rc::Rc<str>);

#[cached(ttl = 60)]
fn local_error(fail: bool) -> Result<u32, LocalError> {
    if fail { Err(LocalError("local".into())) } else { Ok(1) }
}

#[cached(ttl = 60)]
fn boxed_error(fail: bool) -> Result<u32, Box<dyn std::error::Error>> {
    if fail { Err("boxed".into()) } else { Ok(2) }
}

#[test]
fn error_types_need_not_be_clone_send_or_sync() {
    assert_eq!(&*local_error(true).unwrap_err().0, "local");
    assert_eq!(local_error(false).unwrap(), 1);
    assert_eq!(boxed_error(true).unwrap_err().to_string(), "boxed");
    assert_eq!(boxed_error(false).unwrap(), 2);
}

/// A plain type that merely contains an option is positive whatever its content.
#[cached(ttl = 60)]
fn tuple_with_option(id: u32) -> (u32, Option<u32>) {
    (id, None)
}

#[test]
fn other_types_are_always_positive() {
    tuple_with_option(1);
    tuple_with_option(1);
    assert_eq!(tuple_with_option::stats().hits, 1);
}
