//! Items used by the code the macros generate. Not a public API: it changes without notice.

pub use crate::cache::{Cache, CacheBuilder, FromTimeout, Keyed, Load, LoadTimeout};
pub use crate::cell::{CacheCell, GenericCells, Slot, ValueWeigher};
pub use crate::outcome::select;

/// The four shape selectors, imported anonymously: generated code brings them into scope with
/// one glob import, `use __private::shape_selectors::*;`, which names nothing.
pub mod shape_selectors {
    pub use crate::outcome::select::{SelectOption as _, SelectPlain as _, SelectResult as _, SelectResultOption as _};
}
pub use crate::outcome::{CacheKey, CacheValue, Select, Shape};
pub use crate::scope::in_scope;
pub use crate::scope::memo::{MemoSite, request_memo, request_memo_async};
pub use crate::stats::CacheStats;
pub use crate::switch::{refresh, sync_refresh};

/// The builder of a function's cache, named.
#[inline]
pub fn builder(name: impl Into<String>) -> CacheBuilder {
    CacheBuilder::default().name(name)
}

#[path = "generated/site.rs"]
mod site;
pub use site::{Bound, Call, GetSlot, Invalidate, InvalidateAll, Pair, Parts, Put, Site, Stats, Visit};

pub use crate::tags::{Tag, invalidate_tags};

/// A tag from a `tags = [...]` expression: anything that is a string.
#[inline]
pub fn tag(tag: impl IntoTag) -> Tag {
    tag.into_tag()
}

/// What a tag expression may give: a string.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a tag: a tag is a string",
    label = "this tag expression gives `{Self}`",
    note = "build the tag's text, as in `format!(\"product:{{id}}\")`"
)]
pub trait IntoTag {
    /// The tag.
    fn into_tag(self) -> Tag;
}

impl<T: AsRef<str>> IntoTag for T {
    fn into_tag(self) -> Tag {
        Tag::from(self.as_ref())
    }
}

/// Tags from a `tags_from = ...` closure's items.
pub fn collect_tags<I>(items: I) -> Vec<Tag>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    crate::tags::collect(items)
}

/// The `tags_from` of a function that has none.
pub fn no_tags<V>(_: &V) -> Vec<Tag> {
    Vec::new()
}

/// An argument that is part of the cache key. Generated code calls
/// `KeyArgument::<ArgType>(arg).cache_key_part()` spanned at the argument's type: the owned
/// key part, `T` for a `T` taken by value (cloned), `String` for a `&str`, `Vec<T>` for a
/// `&[T]`. When the type cannot be part of a key, the one error (the method's bounds are not
/// met, with the derive that fixes it) is reported at the type, and the key's type is an error
/// from then on, so nothing else is reported.
#[derive(Debug)]
pub struct KeyArgument<'a, T: ?Sized>(pub &'a T);

impl<T: ?Sized + ToOwned> KeyArgument<'_, T>
where
    T::Owned: CacheKey,
{
    /// The owned form stored in the key: `Clone + Eq + Hash + Send + Sync + 'static`.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub fn cache_key_part(self) -> T::Owned {
        self.0.to_owned()
    }
}

/// The value of a `key = ...` expression. Generated code calls `KeyValue(expr).cache_key()`
/// spanned at the expression: a value that cannot be a key is reported once, there.
#[derive(Debug)]
pub struct KeyValue<T>(pub T);

impl<T: CacheKey> KeyValue<T> {
    /// The key: `Clone + Eq + Hash + Send + Sync + 'static`.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub fn cache_key(self) -> T {
        self.0
    }
}

/// A key that can name a distributed entry, and a value that can be kept in the L2: both
/// serialize. (Named, so that an error lists which of the two failed.)
#[cfg(feature = "distributed")]
pub trait DistributedKey: serde::Serialize + serde::de::DeserializeOwned {}
#[cfg(feature = "distributed")]
impl<T: serde::Serialize + serde::de::DeserializeOwned> DistributedKey for T {}

/// A value that can be kept in the L2 (see [`DistributedKey`]).
#[cfg(feature = "distributed")]
pub trait DistributedValue: serde::Serialize + serde::de::DeserializeOwned {}
#[cfg(feature = "distributed")]
impl<T: serde::Serialize + serde::de::DeserializeOwned> DistributedValue for T {}

/// A `batch, distributed` function's cache, its key type checked to serialize: generated code
/// calls `L2Key(cache).serializable()` spanned at the key type, then
/// [`through_l2`](L2Value::through_l2) spanned at the value type, so that a type that does not
/// serialize is reported once, at it.
#[cfg(feature = "redis")]
#[derive(Debug)]
pub struct L2Key<C>(pub C);

#[cfg(feature = "redis")]
impl<K: CacheKey + DistributedKey, V: CacheValue> L2Key<&'static Cache<K, V>> {
    /// The cache, its key checked.
    pub fn serializable(self) -> L2Value<&'static Cache<K, V>> {
        L2Value(self.0)
    }
}

/// A `batch, distributed` function's cache, its key checked (see [`L2Key`]).
#[cfg(feature = "redis")]
#[derive(Debug)]
pub struct L2Value<C>(C);

#[cfg(feature = "redis")]
impl<K: CacheKey + DistributedKey, V: CacheValue + DistributedValue> L2Value<&'static Cache<K, V>> {
    /// The cache reading through the L2 ([`Cache::through_l2`]), its value checked.
    pub fn through_l2(self) -> &'static Cache<K, V> {
        self.0.through_l2()
    }
}

/// The key part of a `distributed` function's argument: as [`KeyArgument::cache_key_part`],
/// and the type must serialize (it names the entry in the L2).
#[cfg(feature = "distributed")]
impl<T: ?Sized + ToOwned> KeyArgument<'_, T>
where
    T::Owned: CacheKey + DistributedKey,
{
    /// The owned form stored in the key, which names the entry in the L2.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub fn distributed_key_part(self) -> T::Owned {
        self.0.to_owned()
    }
}

/// The key of a `distributed` function's `key = ...`: it must serialize too.
#[cfg(feature = "distributed")]
impl<T: CacheKey + DistributedKey> KeyValue<T> {
    /// The key, which names the entry in the L2.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub fn distributed_cache_key(self) -> T {
        self.0
    }
}

/// The shape of a `distributed` function's return value. Generated code calls
/// `L2Shape(shape).serializable()` spanned at the return type: a value that cannot be kept in
/// the L2 is reported once, there.
#[cfg(feature = "distributed")]
#[derive(Debug)]
pub struct L2Shape<S>(pub S);

#[cfg(feature = "distributed")]
impl<S: Shape> L2Shape<S>
where
    S::Stored: DistributedValue,
{
    /// The shape, its stored value checked to serialize.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub fn serializable(self) -> S {
        self.0
    }
}

/// The weigher of a function with `max_bytes`. Generated code calls
/// `Weighs(shape).values(weigher)` spanned at the weigher: a weigher of another type than the
/// stored value (`&T` for a function returning `Result<T, E>`) is reported there.
#[derive(Debug)]
pub struct Weighs<S>(pub S);

impl<S: Shape> Weighs<S> {
    /// The weigher, its value type recorded.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub fn values(self, weigh: fn(&S::Stored) -> usize) -> ValueWeigher {
        ValueWeigher::new(weigh)
    }
}

/// The shape selected for a function's return type. Generated code calls
/// `Cacheable(shape).checked()` spanned at the return type: a value that cannot be cached is
/// reported once, there, and the shape is an error from then on, silencing the rest.
#[derive(Debug)]
pub struct Cacheable<S>(pub S);

impl<S: Shape> Cacheable<S> {
    /// The shape, its stored value checked to be `Clone + Send + Sync + 'static`.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub fn checked(self) -> S {
        self.0
    }
}

/// What a `#[cached(batch)]` function returns: a map from the keys found to their values, or
/// a `Result` of one. The function's cache keeps `Option<Value>` per key (`None`: absent).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not what a `batch` function returns",
    label = "a `batch` function returns the values of the keys it found",
    note = "return `HashMap<K, V>` or `Result<HashMap<K, V>, E>` (std's `HashMap`), K being the type of the keys it takes"
)]
pub trait BatchOutput: Sized {
    /// The key type.
    type Key;
    /// A value.
    type Value;
    /// The error of a failed load (`Infallible` for a plain map).
    type Error;
    /// What the handle's `one` returns: `Option<Value>`, or a `Result` of it.
    type One;
    /// The values found, or the error.
    fn into_map(self) -> Result<std::collections::HashMap<Self::Key, Self::Value>, Self::Error>;
    /// The function's return value for these values, or this error.
    fn from_map(map: Result<std::collections::HashMap<Self::Key, Self::Value>, Self::Error>) -> Self;
    /// `one`'s return value for one key's value, or this error.
    fn one(value: Result<Option<Self::Value>, Self::Error>) -> Self::One;
}

impl<K, V> BatchOutput for std::collections::HashMap<K, V> {
    type Key = K;
    type Value = V;
    type Error = std::convert::Infallible;
    type One = Option<V>;

    fn into_map(self) -> Result<Self, std::convert::Infallible> {
        Ok(self)
    }

    fn one(value: Result<Option<V>, std::convert::Infallible>) -> Option<V> {
        match value {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }

    fn from_map(map: Result<Self, std::convert::Infallible>) -> Self {
        match map {
            Ok(map) => map,
            Err(never) => match never {},
        }
    }
}

impl<K, V, E> BatchOutput for Result<std::collections::HashMap<K, V>, E> {
    type Key = K;
    type Value = V;
    type Error = E;
    type One = Result<Option<V>, E>;

    fn into_map(self) -> Self {
        self
    }

    fn one(value: Result<Option<V>, E>) -> Result<Option<V>, E> {
        value
    }

    fn from_map(map: Self) -> Self {
        map
    }
}

/// Checks that the keys a `#[cached(batch)]` function takes are the keys of the map it
/// returns.
#[inline(always)]
pub fn same_keys<E: SameKeys<K>, K>() {}

/// The keys a `#[cached(batch)]` function takes are the keys of the map it returns.
#[diagnostic::on_unimplemented(
    message = "this `batch` function takes keys of type `{Self}` but returns a map keyed by `{K}`",
    label = "keys of type `{Self}`",
    note = "take the map's key type: `&[{K}]` or `Vec<{K}>`"
)]
pub trait SameKeys<K> {}

impl<K> SameKeys<K> for K {}
