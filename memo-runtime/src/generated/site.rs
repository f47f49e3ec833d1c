//! The site accessor every `#[cached]` function and its handle reach their cache through: what
//! it knows of the cache ([`Site`]), and what each of them asks of it ([`Visit`]).

use crate::cache::{Cache, Keyed};
use crate::cell::Slot;
use crate::outcome::{CacheKey, Shape};
use crate::stats::CacheStats;
use crate::tags::Tag;

/// What a function's one site accessor knows of its cache: the slot it lives in, the shape of
/// the return type, the key function and the tags from the value. The function and each of its
/// handle functions call the accessor with a [`Visit`], which is handed this.
#[derive(Debug)]
pub struct Site<S, A, K, D>(pub S, pub fn(A) -> K, pub D, pub Slot);

impl<S: Shape, A, K: CacheKey, D> Site<S, A, K, D> {
    /// The function's cache.
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn cache(&self) -> &'static Cache<K, S::Stored> {
        self.3.get_or_init()
    }
}

/// What the function or a handle function asks of the function's cache.
pub trait Visit<A, R> {
    /// The result, which may name the cache's key type and the return type's shape (`P`).
    type Out<P: Parts<R>>;
    /// Does the work on the function's cache.
    fn visit<K, S>(self, site: Site<S, A, K, impl FnOnce(&S::Stored) -> Vec<Tag>>) -> Self::Out<Pair<K, S>>
    where
        K: CacheKey,
        S: Shape<Output = R>;
}

/// A function's key type and shape, as one type: the site accessor returns them unnamed.
pub trait Parts<R> {
    /// The cache's key type.
    type Key: CacheKey;
    /// The return type's shape.
    type Shape: Shape<Output = R>;
}

/// [`Parts`] made of a key type and a shape (never a value).
#[derive(Debug)]
pub struct Pair<K, S>(std::marker::PhantomData<(K, S)>);

impl<R, K: CacheKey, S: Shape<Output = R>> Parts<R> for Pair<K, S> {
    type Key = K;
    type Shape = S;
}

/// The function's own call: the slot of its cache.
#[derive(Debug)]
pub struct GetSlot;

impl<A, R> Visit<A, R> for GetSlot {
    type Out<P: Parts<R>> = Slot;
    fn visit<K: CacheKey, S: Shape<Output = R>>(
        self,
        site: Site<S, A, K, impl FnOnce(&S::Stored) -> Vec<Tag>>,
    ) -> Slot {
        site.3
    }
}

/// The function's own call, for a function whose body is its whole load: the site's key
/// function, shape and slot, so that the function needs no copy of them. The accessor's
/// result names the arguments' lifetime, but the key it gives does not: the call takes its key
/// (`Call.key(args)`), then runs its load, which takes the arguments, with it.
#[derive(Debug)]
pub struct Call;

impl<A, R> Visit<A, R> for Call {
    type Out<P: Parts<R>> = Bound<A, R, P>;
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn visit<K: CacheKey, S: Shape<Output = R>>(
        self,
        site: Site<S, A, K, impl FnOnce(&S::Stored) -> Vec<Tag>>,
    ) -> Bound<A, R, Pair<K, S>> {
        Bound { key: site.1, shape: site.0, slot: site.3 }
    }
}

/// A function's key function, shape and cache slot (see [`Call`]).
#[derive(Debug)]
pub struct Bound<A, R, P: Parts<R>> {
    key: fn(A) -> P::Key,
    shape: P::Shape,
    slot: Slot,
}

impl<A, R, P: Parts<R>> Bound<A, R, P> {
    /// The call for these arguments: `get_or_run` or `get_or_run_async` it with the body.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub fn key(self, args: A) -> Keyed<P::Key, P::Shape> {
        Keyed::new(self.slot.get_or_init(), (self.key)(args), self.shape)
    }
}

/// `invalidate(args)`: removes the value cached for these arguments.
#[derive(Debug)]
pub struct Invalidate<A>(pub A);

impl<A, R> Visit<A, R> for Invalidate<A> {
    type Out<P: Parts<R>> = bool;
    fn visit<K: CacheKey, S: Shape<Output = R>>(
        self,
        site: Site<S, A, K, impl FnOnce(&S::Stored) -> Vec<Tag>>,
    ) -> bool {
        let cache = site.cache();
        cache.invalidate(&(site.1)(self.0))
    }
}

/// `invalidate_all()`: removes every value cached.
#[derive(Debug)]
pub struct InvalidateAll;

impl<A, R> Visit<A, R> for InvalidateAll {
    type Out<P: Parts<R>> = ();
    fn visit<K: CacheKey, S: Shape<Output = R>>(self, site: Site<S, A, K, impl FnOnce(&S::Stored) -> Vec<Tag>>) {
        site.cache().invalidate_all();
    }
}

/// `stats()`: the cache's statistics.
#[derive(Debug)]
pub struct Stats;

impl<A, R> Visit<A, R> for Stats {
    type Out<P: Parts<R>> = CacheStats;
    fn visit<K: CacheKey, S: Shape<Output = R>>(
        self,
        site: Site<S, A, K, impl FnOnce(&S::Stored) -> Vec<Tag>>,
    ) -> CacheStats {
        site.cache().stats()
    }
}

/// `put(args, value, tags)`: stores a return value for these arguments, with the tags they give
/// (`[]` when the function has no tags): positive values with the time to live, negative ones
/// with the negative time to live, errors not at all.
#[derive(Debug)]
pub struct Put<A, R, T>(pub A, pub R, pub T);

impl<A, R, T: IntoIterator<Item = Tag>> Visit<A, R> for Put<A, R, T> {
    type Out<P: Parts<R>> = ();
    fn visit<K: CacheKey, S: Shape<Output = R>>(self, site: Site<S, A, K, impl FnOnce(&S::Stored) -> Vec<Tag>>) {
        let cache = site.cache();
        let Site(shape, key, derive, _) = site;
        let Put(args, value, tags) = self;
        crate::cache::put_output(cache, key(args), shape, value, tags.into_iter().collect(), derive);
    }
}
