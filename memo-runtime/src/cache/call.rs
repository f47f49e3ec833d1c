//! What a loading call hands the cache: one description of the load ([`Load`]: its body,
//! its tags, its answer at the timeout), and whether the load may outlive the call
//! ([`InCall`] or [`Background`]). [`Cache::get_or_load`] and [`Cache::get_or_load_async`]
//! take it; the mode decides, at compile time, which of the two read paths a call takes.

use std::marker::PhantomData;

use super::body::Body;
use super::runner::{self, Blocking, Job, Tokio};
use super::{Cache, LoadTimeout};
use crate::outcome::{CacheKey, CacheValue, PlainShape, Shape};
use crate::tags::Tag;

/// A load for a cache miss: the body, what goes with its value, and how long it may run.
///
/// The body is a closure for [`Cache::get_or_load`] and a future for
/// [`Cache::get_or_load_async`]; the shape (see [`outcome`](crate::outcome)) says which of
/// its outputs are stored (a `Result`'s `Ok`, an `Option` as a negative entry).
///
/// ```
/// use memo_runtime::{Cache, Load};
/// let cache: Cache<u32, Vec<u32>> = Cache::builder().build();
/// let ids = cache.get_or_load(
///     1,
///     Load::value(|| vec![7, 8])
///         .tags(["doc:load:search"])
///         .tags_from(|ids: &Vec<u32>| ids.iter().map(|id| format!("doc:load:item:{id}").into()).collect()),
/// );
/// assert_eq!(ids, vec![7, 8]);
/// memo_runtime::invalidate_tag("doc:load:item:8");
/// assert_eq!(cache.get(&1), None, "the entry carried the tag of item 8");
/// ```
#[must_use = "a load does nothing until a cache runs it"]
pub struct Load<S: Shape, B, X = <S as Shape>::Output, D = fn(&<S as Shape>::Stored) -> Vec<Tag>, M = InCall> {
    pub(super) shape: S,
    pub(super) body: B,
    /// The body's output as the tags computed with it and the call's output.
    pub(super) split: fn(X) -> (Vec<Tag>, S::Output),
    pub(super) tags: Vec<Tag>,
    pub(super) derive: D,
    pub(super) on_timeout: Option<fn(LoadTimeout) -> S::Output>,
    mode: PhantomData<fn() -> M>,
}

impl<S: Shape, B, X, D, M> std::fmt::Debug for Load<S, B, X, D, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Load")
            .field("tags", &self.tags)
            .field("on_timeout", &self.on_timeout.is_some())
            .field("mode", &std::any::type_name::<M>())
            .finish_non_exhaustive()
    }
}

/// The load runs in the call, which waits for it; its body may borrow. The default.
#[derive(Debug, Clone, Copy)]
pub struct InCall;

/// The load may outlive the call: a stale value answers while the load runs in the background
/// (stale-while-revalidate, early refresh), and a call stops waiting at the cache's load
/// timeout while its load goes on. The body and the cache are `'static` and the body `Send`.
#[derive(Debug, Clone, Copy)]
pub struct Background;

fn untagged<O>(output: O) -> (Vec<Tag>, O) {
    (Vec::new(), output)
}

fn tagged<O>(output: (Vec<Tag>, O)) -> (Vec<Tag>, O) {
    output
}

/// The `derive` of loads whose value carries no tags.
pub(super) fn no_tags<V>(_: &V) -> Vec<Tag> {
    Vec::new()
}

impl<S: Shape, B> Load<S, B> {
    /// A load whose body's output goes through `shape`.
    ///
    /// ```
    /// use memo_runtime::{Cache, Load, outcome::ResultShape};
    /// let cache: Cache<u8, u32> = Cache::builder().build();
    /// let shape = ResultShape::<u32, String>::default();
    /// assert_eq!(cache.get_or_load(1, Load::new(shape, || Err("down".to_owned()))), Err("down".to_owned()));
    /// assert_eq!(cache.get_or_load(1, Load::new(shape, || Ok(10))), Ok(10));
    /// assert_eq!(cache.get_or_load(1, Load::new(shape, || Ok(99))), Ok(10), "stored");
    /// ```
    pub fn new(shape: S, body: B) -> Self {
        Load {
            shape,
            body,
            split: untagged,
            tags: Vec::new(),
            derive: no_tags::<S::Stored>,
            on_timeout: None,
            mode: PhantomData,
        }
    }
}

impl<V: CacheValue, B> Load<PlainShape<V>, B> {
    /// A load whose body's output is the value, stored as it is.
    ///
    /// ```
    /// let cache: memo_runtime::Cache<u32, u32> = memo_runtime::Cache::builder().build();
    /// assert_eq!(cache.get_or_load(2, memo_runtime::Load::value(|| 4)), 4);
    /// assert_eq!(cache.get_or_load(2, memo_runtime::Load::value(|| unreachable!())), 4);
    /// ```
    pub fn value(body: B) -> Self {
        Self::new(PlainShape::default(), body)
    }
}

impl<S: Shape, B> Load<S, B, (Vec<Tag>, S::Output)> {
    /// A load whose body returns the tags computed from the arguments with its output, so
    /// that they are computed on a miss only and before the body takes the arguments. What
    /// `#[cached(tags = [...])]` generates.
    #[doc(hidden)]
    pub fn tagged_body(shape: S, body: B) -> Self {
        Load {
            shape,
            body,
            split: tagged,
            tags: Vec::new(),
            derive: no_tags::<S::Stored>,
            on_timeout: None,
            mode: PhantomData,
        }
    }
}

impl<S: Shape, B, X, D, M> Load<S, B, X, D, M> {
    /// Tags for the entry, known at the call (see [`invalidate_tag`](crate::invalidate_tag)).
    pub fn tags<I>(mut self, tags: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.tags.extend(crate::tags::collect(tags));
        self
    }

    /// Tags for the entry computed from the loaded value (the ids in a list, say).
    pub fn tags_from<E>(self, derive: E) -> Load<S, B, X, E, M>
    where
        E: FnOnce(&S::Stored) -> Vec<Tag>,
    {
        let Load { shape, body, split, tags, on_timeout, mode, .. } = self;
        Load { shape, body, split, tags, derive, on_timeout, mode }
    }

    /// Lets the load outlive the call (see [`Background`]): what stale-while-revalidate,
    /// early refresh and the load timeout need. Without it, a call on a cache with those
    /// settings waits for its load and serves fresh values only.
    ///
    /// ```
    /// use std::{sync::LazyLock, time::Duration};
    /// use memo_runtime::{Cache, Load};
    ///
    /// static CACHE: LazyLock<Cache<u8, u32>> = LazyLock::new(|| {
    ///     Cache::builder()
    ///         .ttl(Duration::from_secs(60))
    ///         .stale(Duration::from_secs(30))
    ///         .build()
    /// });
    /// assert_eq!(CACHE.get_or_load(1, Load::value(|| 5).background()), 5);
    /// ```
    pub fn background(self) -> Load<S, B, X, D, Background> {
        let Load { shape, body, split, tags, derive, on_timeout, .. } = self;
        Load { shape, body, split, tags, derive, on_timeout, mode: PhantomData }
    }
}

impl<S: Shape, B, X, D> Load<S, B, X, D, Background> {
    /// The answer of a call that stops waiting at the cache's
    /// [`timeout`](super::CacheBuilder::timeout) with no stale-if-error value to give;
    /// without it, calls wait for their load however long it takes.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::{sync::LazyLock, time::Duration};
    /// use memo_runtime::{Cache, Load, LoadTimeout, outcome::ResultShape};
    ///
    /// static CACHE: LazyLock<Cache<u8, u32>> = LazyLock::new(|| {
    ///     Cache::builder().ttl(Duration::from_secs(60)).timeout(Duration::from_millis(50)).build()
    /// });
    /// let shape = ResultShape::<u32, LoadTimeout>::default();
    /// let slow = async {
    ///     tokio::time::sleep(Duration::from_secs(5)).await;
    ///     Ok(1)
    /// };
    /// let answer = CACHE.get_or_load_async(1, Load::new(shape, slow).background().on_timeout(Err)).await;
    /// assert!(answer.is_err(), "timed out after 50 ms");
    /// # }
    /// ```
    pub fn on_timeout(mut self, answer: fn(LoadTimeout) -> S::Output) -> Self {
        self.on_timeout = Some(answer);
        self
    }
}

impl<S: Shape, B, X, D, M> Load<S, B, X, D, M> {
    /// The body, and what turns its output into the tags and the call's output.
    #[allow(clippy::type_complexity, reason = "the parts of a load, taken apart once")]
    pub(super) fn into_parts(self) -> (S, B, Finish<X, S::Output>, D, Option<fn(LoadTimeout) -> S::Output>) {
        let Load { shape, body, split, tags, derive, on_timeout, .. } = self;
        (shape, body, Finish { split, tags }, derive, on_timeout)
    }
}

/// How long a caller waits for a load, and its answer when the wait ends first with no
/// stale-if-error value.
pub(super) struct Timeout<O> {
    pub(super) after: std::time::Duration,
    pub(super) answer: fn(super::LoadTimeout) -> O,
}

impl<O> Clone for Timeout<O> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<O> Copy for Timeout<O> {}

/// Turns a body's output into the entry's tags and the call's output: the tags given at the
/// call, then those the body computed. Generic over the output only, so that functions with
/// the same output share it.
pub(super) struct Finish<X, O> {
    split: fn(X) -> (Vec<Tag>, O),
    tags: Vec<Tag>,
}

impl<O> Finish<O, O> {
    /// The finish of a body whose output is the call's, with no tags given at the call.
    pub(super) fn untagged() -> Self {
        Finish { split: untagged, tags: Vec::new() }
    }
}

impl<X, O> Finish<X, O> {
    pub(super) fn apply(self, output: X) -> (Vec<Tag>, O) {
        let Finish { split, tags: mut given } = self;
        let (tags, output) = split(output);
        given.extend(tags);
        (given, output)
    }
}

/// How a sync call with this mode runs (see [`Cache::get_or_load`]). Implemented by
/// [`InCall`] and [`Background`] only.
pub trait SyncMode<'c, K, V, S: Shape, B, X, D>: Sized {
    #[doc(hidden)]
    fn run(cache: &'c Cache<K, V>, key: K, shape: S, load: impl FnOnce() -> Load<S, B, X, D, Self>) -> S::Output;
}

impl<'c, K, V, S, B, X, D> SyncMode<'c, K, V, S, B, X, D> for InCall
where
    K: CacheKey,
    V: CacheValue,
    S: Shape<Stored = V>,
    B: FnOnce() -> X,
    X: 'static,
    S::Output: 'static,
    D: FnOnce(&V) -> Vec<Tag>,
{
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn run(cache: &'c Cache<K, V>, key: K, shape: S, load: impl FnOnce() -> Load<S, B, X, D, Self>) -> S::Output {
        if let Some((value, _)) = cache.lookup(&key) {
            return shape.rebuild(value);
        }
        cache.load_blocking(key, load())
    }
}

impl<K, V, S, B, X, D> SyncMode<'static, K, V, S, B, X, D> for Background
where
    K: CacheKey,
    V: CacheValue,
    S: Shape<Stored = V>,
    S::Output: Send + 'static,
    B: FnOnce() -> X + Send + 'static,
    X: Send + 'static,
    D: FnOnce(&V) -> Vec<Tag> + Send + 'static,
{
    fn run(cache: &'static Cache<K, V>, key: K, _: S, load: impl FnOnce() -> Load<S, B, X, D, Self>) -> S::Output {
        let (shape, body, finish, derive, on_timeout) = load().into_parts();
        let make = move || async move { finish.apply(body()) };
        match cache.serve::<Blocking, _>(&key, Body { shape, derive, make }) {
            Ok(output) => output,
            Err(body) => runner::drive(std::pin::pin!(cache.background_miss::<Blocking, _>(key, body, on_timeout))),
        }
    }
}

/// What an async call with this mode does first (see [`Cache::get_or_load_async`]).
#[doc(hidden)]
pub enum Step<K, S: Shape, L> {
    /// A miss, to load in the call: the one async read path for borrowed bodies.
    InCall(K, L),
    /// The call's answer: a servable entry's value.
    Ready(S::Output),
    /// The call's answer, to await (a miss).
    Await(Job<S::Output>),
}

impl<K, S: Shape, L> std::fmt::Debug for Step<K, S, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::InCall(..) => "Step::InCall",
            Self::Ready(_) => "Step::Ready",
            Self::Await(_) => "Step::Await",
        })
    }
}

/// How an async call with this mode runs (see [`Cache::get_or_load_async`]). Implemented by
/// [`InCall`] and [`Background`] only.
pub trait AsyncMode<'c, K, V, S: Shape, F, X, D>: Sized {
    #[doc(hidden)]
    fn step(
        cache: &'c Cache<K, V>,
        key: K,
        shape: S,
        load: impl FnOnce() -> Load<S, F, X, D, Self>,
    ) -> Step<K, S, Load<S, F, X, D, Self>>;
}

impl<'c, K: CacheKey, V: CacheValue, S: Shape<Stored = V>, F, X, D> AsyncMode<'c, K, V, S, F, X, D> for InCall {
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn step(
        cache: &'c Cache<K, V>,
        key: K,
        shape: S,
        load: impl FnOnce() -> Load<S, F, X, D, Self>,
    ) -> Step<K, S, Load<S, F, X, D, Self>> {
        match cache.lookup(&key) {
            Some((value, _)) => Step::Ready(shape.rebuild(value)),
            None => Step::InCall(key, load()),
        }
    }
}

impl<K, V, S, F, X, D> AsyncMode<'static, K, V, S, F, X, D> for Background
where
    K: CacheKey,
    V: CacheValue,
    S: Shape<Stored = V>,
    S::Output: Send + 'static,
    F: Future<Output = X> + Send + 'static,
    X: Send + 'static,
    D: FnOnce(&V) -> Vec<Tag> + Send + 'static,
{
    fn step(
        cache: &'static Cache<K, V>,
        key: K,
        _: S,
        load: impl FnOnce() -> Load<S, F, X, D, Self>,
    ) -> Step<K, S, Load<S, F, X, D, Self>> {
        let (shape, body, finish, derive, on_timeout) = load().into_parts();
        let make = move || async move { finish.apply(body.await) };
        match cache.serve::<Tokio, _>(&key, Body { shape, derive, make }) {
            Ok(output) => Step::Ready(output),
            Err(body) => Step::Await(Box::pin(cache.background_miss::<Tokio, _>(key, body, on_timeout))),
        }
    }
}
