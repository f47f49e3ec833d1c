//! Items used by the code the macros generate. Not a public API: it changes without notice.

pub use crate::cache::{Cache, CacheBuilder, FromTimeout, Load, LoadTimeout};
pub use crate::cell::CacheCell;
pub use crate::outcome::select;
pub use crate::outcome::{CacheKey, CacheValue, Select, Shape};
pub use crate::scope::in_scope;
pub use crate::scope::memo::{MemoSite, request_memo, request_memo_async};
pub use crate::stats::CacheStats;

/// Stores a function's return value for `key` (the typed handle's `put`): positive values
/// with the time to live, negative ones with the negative time to live, errors not at all.
pub fn put<K: CacheKey, S: Shape>(
    cache: &Cache<K, S::Stored>,
    key: K,
    shape: S,
    output: S::Output,
    tags: Vec<Tag>,
    derive: impl FnOnce(&S::Stored) -> Vec<Tag>,
) {
    crate::cache::put_output(cache, key, shape, output, tags, derive);
}

/// What a handle function asks of its function's cache. The handle calls the function's one
/// site accessor with a visitor; the accessor, which knows the cache, the shape, the key closure
/// and the tags from the value, hands them to it.
pub trait Visit<A, R> {
    /// The handle function's result.
    type Out;
    /// Does the handle's work on the function's cache.
    fn visit<K: CacheKey, S: Shape<Output = R>>(
        self,
        cache: &'static Cache<K, S::Stored>,
        shape: S,
        key: impl FnOnce(A) -> K,
        derive: impl FnOnce(&S::Stored) -> Vec<Tag>,
    ) -> Self::Out;
}

/// `invalidate(args)`: removes the value cached for these arguments.
#[derive(Debug)]
pub struct Invalidate<A>(pub A);

impl<A, R> Visit<A, R> for Invalidate<A> {
    type Out = bool;
    fn visit<K: CacheKey, S: Shape<Output = R>>(
        self,
        cache: &'static Cache<K, S::Stored>,
        _: S,
        key: impl FnOnce(A) -> K,
        _: impl FnOnce(&S::Stored) -> Vec<Tag>,
    ) -> bool {
        cache.invalidate(&key(self.0))
    }
}

/// `invalidate_all()`: removes every value cached.
#[derive(Debug)]
pub struct InvalidateAll;

impl<A, R> Visit<A, R> for InvalidateAll {
    type Out = ();
    fn visit<K: CacheKey, S: Shape<Output = R>>(
        self,
        cache: &'static Cache<K, S::Stored>,
        _: S,
        _: impl FnOnce(A) -> K,
        _: impl FnOnce(&S::Stored) -> Vec<Tag>,
    ) {
        cache.invalidate_all();
    }
}

/// `stats()`: the cache's statistics.
#[derive(Debug)]
pub struct Stats;

impl<A, R> Visit<A, R> for Stats {
    type Out = CacheStats;
    fn visit<K: CacheKey, S: Shape<Output = R>>(
        self,
        cache: &'static Cache<K, S::Stored>,
        _: S,
        _: impl FnOnce(A) -> K,
        _: impl FnOnce(&S::Stored) -> Vec<Tag>,
    ) -> CacheStats {
        cache.stats()
    }
}

/// `put(args, value)`: stores a return value with the tags its arguments give.
#[derive(Debug)]
pub struct Put<A, R> {
    /// The arguments the key is made of.
    pub args: A,
    /// What the function would return.
    pub value: R,
    /// The tags from the arguments.
    pub tags: Vec<Tag>,
}

impl<A, R> Visit<A, R> for Put<A, R> {
    type Out = ();
    fn visit<K: CacheKey, S: Shape<Output = R>>(
        self,
        cache: &'static Cache<K, S::Stored>,
        shape: S,
        key: impl FnOnce(A) -> K,
        derive: impl FnOnce(&S::Stored) -> Vec<Tag>,
    ) {
        put(cache, key(self.args), shape, self.value, self.tags, derive);
    }
}

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

/// The key type of a key closure: the cache accessor is generic over the key type only, so
/// that the function and its handle share one instance of it.
#[derive(Debug, Clone, Copy)]
pub struct KeyOf<K>(std::marker::PhantomData<fn() -> K>);

/// The [`KeyOf`] a key closure returns.
#[inline(always)]
pub fn key_of<A, K>(_key_fn: &impl Fn(A) -> K) -> KeyOf<K> {
    KeyOf(std::marker::PhantomData)
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
    #[inline(always)]
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
    #[inline(always)]
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

/// The key part of a `distributed` function's argument: as [`KeyArgument::cache_key_part`],
/// and the type must serialize (it names the entry in the L2).
#[cfg(feature = "distributed")]
impl<T: ?Sized + ToOwned> KeyArgument<'_, T>
where
    T::Owned: CacheKey + DistributedKey,
{
    /// The owned form stored in the key, which names the entry in the L2.
    #[inline(always)]
    pub fn distributed_key_part(self) -> T::Owned {
        self.0.to_owned()
    }
}

/// The key of a `distributed` function's `key = ...`: it must serialize too.
#[cfg(feature = "distributed")]
impl<T: CacheKey + DistributedKey> KeyValue<T> {
    /// The key, which names the entry in the L2.
    #[inline(always)]
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
    #[inline(always)]
    pub fn serializable(self) -> S {
        self.0
    }
}

/// The shape selected for a function's return type. Generated code calls
/// `Cacheable(shape).checked()` spanned at the return type: a value that cannot be cached is
/// reported once, there, and the shape is an error from then on, silencing the rest.
#[derive(Debug)]
pub struct Cacheable<S>(pub S);

impl<S: Shape> Cacheable<S> {
    /// The shape, its stored value checked to be `Clone + Send + Sync + 'static`.
    #[inline(always)]
    pub fn checked(self) -> S {
        self.0
    }
}
