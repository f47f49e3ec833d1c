//! memo: memoization for Rust services.
//!
//! `#[cached]` turns a function, sync or async, into a cached one: values stay fresh for a
//! time to live (with optional jitter), concurrent misses on one key run the body once, `None`
//! and `Ok(None)` can be kept for a shorter negative time to live, errors are never kept, and
//! the cache stays within a bounded number of entries.
//!
//! ```
//! use memo_runtime::cached;
//!
//! #[derive(Clone, Debug, PartialEq)]
//! struct User {
//!     id: u64,
//!     name: String,
//! }
//!
//! #[cached(ttl = "5m", jitter = 30, negative_ttl = 10, capacity = 50_000)]
//! async fn load_user(id: u64) -> Result<Option<User>, std::io::Error> {
//!     // A database query would go here.
//!     Ok((id < 100).then(|| User { id, name: format!("user {id}") }))
//! }
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), std::io::Error> {
//!     let first = load_user(7).await?;
//!     let again = load_user(7).await?; // answered from the cache
//!     assert_eq!(first, again);
//!     assert_eq!(load_user(1000).await?, None); // negative, kept for 10 s
//!
//!     let stats = load_user::stats();
//!     assert_eq!((stats.loads, stats.hits), (2, 1));
//!
//!     load_user::invalidate(&7); // after the user changed
//!     Ok(())
//! }
//! ```
//!
//! See [`cached`] for every argument, [`outcome`] for how return values are classified, and
//! [`Cache`] for the cache underneath.
//!
//! Features: `macros` (on by default: the attributes), `tower` (`RequestMemoLayer`),
//! `distributed` (the L2 envelope), `redis` (the Redis L2 and backplane), `tls` (`rediss://`),
//! `metrics` (the `metrics` facade) and `test-util` (a controllable clock). Items that need one
//! say so in these docs.

// docs.rs builds with `--cfg docsrs` and labels each item with the features it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "macros")]
mod attributes;
pub mod background;
pub mod cache;
mod cell;
pub mod clock;
mod entry;
mod notice;
// The guide's examples use the `test-util`, `tower`, `redis` and `metrics` features; rendered
// always, run as doctests when those are on.
#[cfg_attr(
    any(not(doctest), all(feature = "test-util", feature = "tower", feature = "redis", feature = "metrics")),
    doc = include_str!("guide.md")
)]
pub mod guide {}
#[cfg(feature = "distributed")]
pub mod l2;
#[cfg(feature = "tower")]
pub mod layer;
#[cfg(feature = "redis")]
pub mod memo;
#[cfg(feature = "metrics")]
pub mod metrics;
pub mod outcome;
mod random;
pub mod scope;
pub mod stats;
pub mod switch;
pub mod tags;
#[cfg(feature = "test-util")]
pub mod testing;
mod warm;

#[cfg(feature = "macros")]
pub use attributes::{cached, cached_impl, invalidate, request_memo};
pub use cache::{Cache, CacheBuilder, FromTimeout, Load, LoadTimeout};
pub use entry::EntryInfo;
#[cfg(feature = "redis")]
pub use l2::redis::{InstallError, L2Stats, RedisL2};
#[cfg(feature = "tower")]
pub use layer::{AnyRequest, NoCacheBypass, RequestMemo, RequestMemoLayer};
#[cfg(feature = "redis")]
pub use memo::{Memo, MemoBuilder};
pub use scope::{Scope, scope};
pub use stats::{CacheStats, Evictions, Invalidations, LoadTimes};
pub use switch::{bypass, enabled, set_enabled, sync_bypass};
pub use tags::{invalidate_tag, invalidate_tags};
pub use warm::warm;

/// Items used by the code the macros generate. Not a public API: it changes without notice.
#[doc(hidden)]
#[path = "generated.rs"]
pub mod __private;

#[cfg(all(doctest, feature = "tower", feature = "tls"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
