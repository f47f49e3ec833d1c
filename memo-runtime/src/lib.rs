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

pub mod cache;
mod cell;
pub mod clock;
mod entry;
pub mod outcome;
mod random;
pub mod stats;
#[cfg(feature = "test-util")]
pub mod testing;

pub use cache::{Cache, CacheBuilder};
pub use entry::EntryInfo;
#[cfg(feature = "macros")]
pub use memo_macros::cached;
pub use stats::{CacheStats, LoadTimes};

/// Items used by the code the macros generate. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::cache::{Cache, CacheBuilder};
    pub use crate::cell::CacheCell;
    pub use crate::outcome::select;
    pub use crate::outcome::{CacheKey, CacheValue, Select, Shape};
    pub use crate::stats::CacheStats;

    /// Stores a function's return value for `key` (the typed handle's `put`): positive values
    /// with the time to live, negative ones with the negative time to live, errors not at all.
    pub fn put<K: CacheKey, S: Shape>(cache: &Cache<K, S::Stored>, key: K, shape: S, output: S::Output) {
        crate::cache::put_output(cache, key, shape, output);
    }

    /// The owned key part for an argument: `T` for a `T` taken by value (cloned), `String`
    /// for a `&str`, `Vec<T>` for a `&[T]`. Generated code calls it as
    /// `<ArgType as KeyPart>::key_part(arg)` spanned at the argument's type, so a type that
    /// cannot be a key is reported there, once: the failed projection silences follow-on errors.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be part of a cache key: it must be `Clone + Eq + Hash + Send + Sync + 'static`",
        label = "this argument is part of the cache key",
        note = "leave it out of the key with `skip(..)`, or give the key yourself with `key = ...`"
    )]
    pub trait KeyPart {
        /// The owned form stored in the key.
        type Owned: CacheKey;
        /// Converts a borrowed argument into its owned key form.
        fn key_part(&self) -> Self::Owned;
    }

    impl<B: ?Sized + ToOwned> KeyPart for B
    where
        B::Owned: CacheKey,
    {
        type Owned = B::Owned;
        #[inline(always)]
        fn key_part(&self) -> B::Owned {
            self.to_owned()
        }
    }

    /// The value of a `key = ...` expression, checked to be usable as a key.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be a cache key: it must be `Clone + Eq + Hash + Send + Sync + 'static`",
        label = "the `key = ...` expression has this type",
        note = "build an owned key, such as a tuple of owned values or a `String`"
    )]
    pub trait KeyExpr {
        /// The key type.
        type Key: CacheKey;
        /// Passes the key through.
        fn into_key(self) -> Self::Key;
    }

    impl<T: CacheKey> KeyExpr for T {
        type Key = T;
        #[inline(always)]
        fn into_key(self) -> T {
            self
        }
    }

    /// Checks that the selected shape's stored value can be cached; the call is spanned at
    /// the return type.
    #[inline(always)]
    pub fn assert_cacheable<S: Shape>(_shape: &S) {}
}

#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
