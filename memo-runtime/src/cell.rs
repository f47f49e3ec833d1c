//! The lazily built, type-checked home of one `#[cached]` function's cache.

use std::any::TypeId;
use std::sync::OnceLock;

use crate::cache::{Cache, CacheBuilder};
use crate::outcome::{CacheKey, CacheValue, Shape};

/// A `static` slot that builds its cache on first use.
///
/// The macros cannot spell the stored value's type (it depends on how the return type
/// resolves, see [`outcome`](crate::outcome)), so the slot holds the cache type-erased and the
/// generated code, where the compiler infers the types, asks for it by type.
#[derive(Debug)]
pub struct CacheCell {
    /// The type of the cache and its address, leaked: the slot is a `static`, so its cache
    /// lives as long as the process anyway.
    cache: OnceLock<(TypeId, Erased)>,
}

/// A [`CacheCell`] with the description of its cache: what generated code asks for the cache.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    cell: &'static CacheCell,
    /// Makes the builder of the cache, on first use. A function pointer, not a closure type:
    /// every function with the same key and value types shares one compiled copy of the code
    /// that builds and checks the cache.
    config: fn() -> CacheBuilder,
}

/// The address of a leaked `Cache<K, V>`, whose type is recorded beside it.
#[derive(Debug, Clone, Copy)]
struct Erased(*const ());

// SAFETY: `Erased` only ever points to a `Cache<K, V>`, which is `Send + Sync` (its key and
// value types are bounded by `Send + Sync`), and is only dereferenced as that type.
unsafe impl Send for Erased {}
// SAFETY: as above.
unsafe impl Sync for Erased {}

impl CacheCell {
    /// An empty slot, for a `static`.
    #[must_use]
    pub const fn new() -> Self {
        Self { cache: OnceLock::new() }
    }

    /// This slot, whose cache `config` describes.
    #[inline(always)]
    pub fn with(&'static self, config: fn() -> CacheBuilder) -> Slot {
        Slot { cell: self, config }
    }
}

impl Default for CacheCell {
    fn default() -> Self {
        Self::new()
    }
}

impl Slot {
    /// The cache of the function whose key closure and return shape these are: generated
    /// code passes them so that the compiler infers the cache's key and value types, which the
    /// macro cannot spell.
    #[inline(always)]
    pub fn cache<A, K: CacheKey, S: Shape>(
        self,
        _key_fn: &impl FnOnce(A) -> K,
        _shape: S,
    ) -> &'static Cache<K, S::Stored> {
        self.get_or_init()
    }

    /// The cache in this slot, built on first use.
    ///
    /// # Panics
    ///
    /// If asked for different key or value types than it was built with. Generated code always
    /// asks with the same types, so this is a bug in memo, not in the caller.
    #[inline]
    pub fn get_or_init<K: CacheKey, V: CacheValue>(self) -> &'static Cache<K, V> {
        let (type_id, erased) = *self.cell.cache.get_or_init(|| {
            let cache: &'static Cache<K, V> = Box::leak(Box::new((self.config)().build()));
            crate::stats::register(cache);
            (TypeId::of::<Cache<K, V>>(), Erased(std::ptr::from_ref(cache).cast()))
        });
        if type_id != TypeId::of::<Cache<K, V>>() {
            panic!("memo: cache cell asked for a different key or value type (bug in memo)");
        }
        // SAFETY: the pointer came from a leaked `&'static Cache<K, V>` of the type recorded
        // with it, which was just checked to be this `Cache<K, V>`.
        unsafe { &*erased.0.cast::<Cache<K, V>>() }
    }
}
