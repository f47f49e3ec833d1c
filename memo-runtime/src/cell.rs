//! The lazily built, type-checked home of one `#[cached]` function's cache.

use std::any::Any;
use std::sync::OnceLock;

use crate::cache::{Cache, CacheBuilder};
use crate::outcome::{CacheKey, CacheValue};

/// A `static` slot that builds its cache on first use.
///
/// The macros cannot spell the stored value's type (it depends on how the return type
/// resolves, see [`outcome`](crate::outcome)), so the slot holds the cache type-erased and the
/// generated code, where the compiler infers the types, asks for it by type.
#[derive(Debug)]
pub struct CacheCell {
    cache: OnceLock<&'static (dyn Any + Send + Sync)>,
}

impl CacheCell {
    /// An empty slot, for a `static`.
    #[must_use]
    pub const fn new() -> Self {
        Self { cache: OnceLock::new() }
    }

    /// The cache in this slot, built from `config` on first use.
    ///
    /// # Panics
    ///
    /// If asked for different key or value types than it was built with. Generated code always
    /// asks with the same types, so this is a bug in memo, not in the caller.
    #[inline]
    pub fn get_or_init<K: CacheKey, V: CacheValue>(&'static self, config: impl FnOnce() -> CacheBuilder) -> &'static Cache<K, V> {
        let any = *self.cache.get_or_init(|| {
            // The slot is a `static`: its cache lives as long as the process anyway.
            let cache: &'static Cache<K, V> = Box::leak(Box::new(config().build()));
            crate::stats::register(cache);
            cache
        });
        match any.downcast_ref::<Cache<K, V>>() {
            Some(cache) => cache,
            None => panic!("memo: cache cell asked for a different key or value type (bug in memo)"),
        }
    }
}

impl Default for CacheCell {
    fn default() -> Self {
        Self::new()
    }
}
