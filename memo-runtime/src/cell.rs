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
    /// How to weigh the cache's values against its byte bound, if the function says.
    weigher: Option<ValueWeigher>,
}

/// A weigher of values (`#[cached(weigher = ...)]`), the value type it takes recorded beside
/// it so that a cache of that value type alone uses it.
#[derive(Debug, Clone, Copy)]
pub struct ValueWeigher {
    value: TypeId,
    /// A `fn(&V) -> usize` for the recorded `V`.
    weigh: *const (),
}

impl ValueWeigher {
    /// Records `weigh` with its value type.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub fn new<V: 'static>(weigh: fn(&V) -> usize) -> Self {
        Self { value: TypeId::of::<V>(), weigh: weigh as *const () }
    }

    fn of<V: 'static>(self) -> Option<fn(&V) -> usize> {
        // SAFETY: `weigh` was made from a `fn(&V) -> usize` for the type recorded in `value`,
        // which was just checked to be this `V`; function pointers round-trip through
        // `*const ()` on every platform Rust supports.
        (self.value == TypeId::of::<V>())
            .then(|| unsafe { std::mem::transmute::<*const (), fn(&V) -> usize>(self.weigh) })
    }
}

// SAFETY: `ValueWeigher` holds a function pointer (and a type id), which is `Send + Sync`.
unsafe impl Send for ValueWeigher {}
// SAFETY: as above.
unsafe impl Sync for ValueWeigher {}

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
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub fn with(&'static self, config: fn() -> CacheBuilder) -> Slot {
        Slot { cell: self, config, weigher: None }
    }
}

impl Default for CacheCell {
    fn default() -> Self {
        Self::new()
    }
}

impl Slot {
    /// This slot, whose cache weighs its values with `weigher`.
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[must_use]
    pub fn weighing(self, weigher: ValueWeigher) -> Self {
        Self { weigher: Some(weigher), ..self }
    }

    /// The cache of the function whose key closure and return shape these are: generated
    /// code passes them so that the compiler infers the cache's key and value types, which the
    /// macro cannot spell.
    #[cfg_attr(not(debug_assertions), inline(always))]
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
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub fn get_or_init<K: CacheKey, V: CacheValue>(self) -> &'static Cache<K, V> {
        // The first call builds the cache out of line, so that a hit keeps the slot's parts in
        // registers.
        let (type_id, erased) = match self.cell.cache.get() {
            Some(&built) => built,
            None => self.init::<K, V>(),
        };
        if type_id != TypeId::of::<Cache<K, V>>() {
            panic!("memo: cache cell asked for a different key or value type (bug in memo)");
        }
        // SAFETY: the pointer came from a leaked `&'static Cache<K, V>` of the type recorded
        // with it, which was just checked to be this `Cache<K, V>`.
        unsafe { &*erased.0.cast::<Cache<K, V>>() }
    }

    #[cold]
    #[inline(never)]
    fn init<K: CacheKey, V: CacheValue>(self) -> (TypeId, Erased) {
        *self.cell.cache.get_or_init(|| {
            let mut cache: Cache<K, V> = (self.config)().build();
            if let Some(weigh) = self.weigher.and_then(ValueWeigher::of::<V>) {
                cache.weigh_values(weigh);
            }
            let cache: &'static Cache<K, V> = Box::leak(Box::new(cache));
            crate::stats::register(cache);
            (TypeId::of::<Cache<K, V>>(), Erased(std::ptr::from_ref(cache).cast()))
        })
    }
}

/// The cache cells of a generic function, one per instantiation: a `static` in the function's
/// site accessor, which a generic function shares with all its instantiations, asked for the
/// cell of the instantiation's type parameters `P` (as a tuple).
#[derive(Debug)]
pub struct GenericCells {
    cells: OnceLock<scc::HashIndex<TypeId, &'static CacheCell>>,
}

impl GenericCells {
    /// No cells yet, for a `static`.
    #[must_use]
    pub const fn new() -> Self {
        Self { cells: OnceLock::new() }
    }

    /// The cell of the instantiation whose type parameters are `P`, made on first use. A cell
    /// lives as long as the process, like the `static` of a non-generic function.
    pub fn cell<P: ?Sized + 'static>(&'static self) -> &'static CacheCell {
        let cells = self.cells.get_or_init(scc::HashIndex::default);
        let id = TypeId::of::<P>();
        if let Some(cell) = cells.peek_with(&id, |_, cell| *cell) {
            return cell;
        }
        let made: &'static CacheCell = Box::leak(Box::new(CacheCell::new()));
        match cells.insert_sync(id, made) {
            Ok(()) => made,
            // Another call made it first: one leaked empty cell, once per instantiation.
            Err(_) => cells.peek_with(&id, |_, cell| *cell).unwrap_or(made),
        }
    }
}

impl Default for GenericCells {
    fn default() -> Self {
        Self::new()
    }
}
