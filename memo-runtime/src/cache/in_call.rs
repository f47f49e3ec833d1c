//! An async call whose body runs in the call (the default): the hit, and a miss compiled
//! once per cache and output. The miss path reaches the body, compiled per function, without
//! holding it: [`Answer::InCall`] polls the miss with the body lent for that poll, and the miss awaits
//! [`Body`] where it runs the body. So each `async fn` adds only [`Answer::InCall`]'s poll to the
//! build, and the miss future holds no body: it is `Send` when the body is.

use std::any::Any;
use std::cell::Cell;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

use super::Cache;
use super::call::{AsyncMode, Finish, Load, Step, no_tags};
use super::flight::Turn;
use super::load::{Lead, Loading};
use super::miss::Beneath;
use super::policy::Accept;
use super::runner::{Job, Tokio};
use crate::outcome::{CacheKey, CacheValue, Shape};
use crate::tags::Tag;

/// Polls the body once, putting its output, when ready, in the `Option` of the output type
/// behind the `dyn Any`.
type Poller<'a> = dyn FnMut(&mut Context<'_>, &mut dyn Any) -> Poll<()> + 'a;

thread_local! {
    /// The body lent to the miss being polled on this thread, if any.
    static LENT: Cell<Option<NonNull<Poller<'static>>>> = const { Cell::new(None) };
}

/// Puts back what [`LENT`] held, also when a poll unwinds.
struct Restore(Option<NonNull<Poller<'static>>>);

impl Drop for Restore {
    fn drop(&mut self) {
        LENT.set(self.0);
    }
}

/// Runs `poll` with `body` lent to the [`Body`] futures it polls. Not generic: compiled once.
fn lend(body: &mut Poller<'_>, poll: &mut dyn FnMut()) {
    // SAFETY: only the lifetime is erased; the pointer is read by `Body::poll` alone, which
    // runs inside `poll` (a miss is polled by its `Answer::InCall` only), and `Restore` takes it
    // out of `LENT` before this frame ends, unwinding or not.
    let body = unsafe { std::mem::transmute::<NonNull<Poller<'_>>, NonNull<Poller<'static>>>(NonNull::from(body)) };
    let _restore = Restore(LENT.replace(Some(body)));
    poll();
}

/// Puts a body's output where [`Body`] reads it: compiled once per output type.
fn put<X: 'static>(output: &mut dyn Any, value: X) {
    match output.downcast_mut::<Option<X>>() {
        Some(slot) => *slot = Some(value),
        None => unreachable!("a miss awaits the output type of its own body"),
    }
}

/// The body of the miss being polled: what [`Answer::InCall`] lent it.
pub(super) struct Body<X>(PhantomData<fn() -> X>);

impl<X> Body<X> {
    pub(super) fn new() -> Self {
        Body(PhantomData)
    }
}

impl<X: 'static> Future for Body<X> {
    type Output = X;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<X> {
        // Taken while the body runs: a miss the body makes lends its own body, and finds none
        // of this one's once it is done.
        let Some(body) = LENT.take() else { unreachable!("a miss is polled by its Answer::InCall only") };
        let _restore = Restore(Some(body));
        let mut output = None;
        // SAFETY: `lend` put the pointer in `LENT` for the duration of its `poll`, which this
        // call is inside: the body is alive and borrowed by nothing else.
        let ready = unsafe { (*body.as_ptr())(cx, &mut output) };
        match (ready, output) {
            (Poll::Ready(()), Some(value)) => Poll::Ready(value),
            _ => Poll::Pending,
        }
    }
}

/// What an async call awaits: its answer, a miss whose body runs in the call (`miss`, compiled
/// once per cache, with the [`Body`] it awaits lent `body` for each poll), or a miss that runs
/// apart from it.
pub(super) enum Answer<M, F, O> {
    Ready(Option<O>),
    InCall { miss: M, body: F },
    Apart(Job<O>),
}

impl<M: Future<Output = O>, F: Future<Output: 'static>, O> Future for Answer<M, F, O> {
    type Output = O;

    #[cfg_attr(not(debug_assertions), inline(always))]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<O> {
        // SAFETY: the futures are pinned with `self` and never moved out; the answer is never
        // pinned (it is taken out by value).
        let (miss, body) = match unsafe { self.get_unchecked_mut() } {
            Answer::Ready(output) => return Poll::Ready(output.take().expect("an answer is awaited once")),
            Answer::InCall { miss, body } => unsafe { (Pin::new_unchecked(miss), Pin::new_unchecked(body)) },
            Answer::Apart(job) => return job.as_mut().poll(cx),
        };
        let (mut miss, mut body) = (miss, body);
        let mut answer = Poll::Pending;
        let mut poll_body = |cx: &mut Context<'_>, output: &mut dyn Any| match body.as_mut().poll(cx) {
            Poll::Ready(value) => {
                put(output, value);
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        };
        lend(&mut poll_body, &mut || answer = miss.as_mut().poll(cx));
        answer
    }
}

/// What an async miss whose body runs in the call does with the body.
enum Begin<'c, K: CacheKey, V: CacheValue, O> {
    /// Nothing: here is the answer.
    Done(O),
    /// Runs it as the key's load.
    Lead(Lead<'c, K, V>),
    /// Runs it storing nothing: a load calling itself, or caching off (`timed`: counted in
    /// the load times).
    Run { timed: bool },
}

impl<K: CacheKey, S: Shape<Output: 'static>> super::Keyed<K, S> {
    /// The async form of [`get_or_run`](super::Keyed::get_or_run): `body` is the function's
    /// body as a future.
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub fn get_or_run_async<F: Future<Output = S::Output>>(self, body: F) -> impl Future<Output = S::Output> {
        let Self { cache, key, shape } = self;
        match cache.lookup(&key) {
            Some((value, _)) => Answer::Ready(Some(shape.rebuild(value))),
            None => {
                let no_tags: fn(&S::Stored) -> Vec<Tag> = no_tags::<S::Stored>;
                Answer::InCall { miss: cache.in_call(key, shape, no_tags, Finish::untagged()), body }
            }
        }
    }
}

impl<K: CacheKey, V: CacheValue> Cache<K, V> {
    /// [`get_or_load_async`](Self::get_or_load_async) with the load made on a miss only, so
    /// that a hit keeps nothing of it: what `#[cached]` generates.
    #[doc(hidden)]
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub fn get_or_make_async<'c, S, F, X, D, M>(
        &'c self,
        key: K,
        shape: S,
        load: impl FnOnce() -> Load<S, F, X, D, M>,
    ) -> impl Future<Output = S::Output>
    where
        S: Shape<Stored = V>,
        S::Output: 'static,
        F: Future<Output = X>,
        X: 'static,
        D: FnOnce(&V) -> Vec<Tag>,
        M: AsyncMode<'c, K, V, S, F, X, D>,
    {
        match M::step(self, key, shape, load) {
            Step::InCall(key, load) => {
                let (shape, body, finish, derive, _) = load.into_parts();
                Answer::InCall { miss: self.in_call(key, shape, derive, finish), body }
            }
            Step::Ready(output) => Answer::Ready(Some(output)),
            Step::Await(job) => Answer::Apart(job),
        }
    }

    /// An async miss whose body runs in the call: compiled once per cache and output, with the
    /// body polled through [`Body`] (see [`Answer::InCall`]).
    async fn in_call<S: Shape<Stored = V>, X: 'static>(
        &self,
        key: K,
        shape: S,
        derive: impl FnOnce(&V) -> Vec<Tag>,
        finish: Finish<X, S::Output>,
    ) -> S::Output {
        let (lead, timed) = match self.begin_in_call(key, shape).await {
            Begin::Done(output) => return output,
            Begin::Lead(lead) => (Some(lead), false),
            Begin::Run { timed } => (None, timed),
        };
        let started = std::time::Instant::now();
        let output = Loading::new(self.load_span(), lead.as_ref(), std::pin::pin!(Body::new())).await;
        self.end_in_call(lead, timed, started, shape, derive, finish, output)
    }

    /// An async miss whose body runs in the call, up to the body: the tier beneath, then the
    /// flight loop. Compiled once per cache and shape.
    async fn begin_in_call<S: Shape<Stored = V>>(&self, key: K, shape: S) -> Begin<'_, K, V, S::Output> {
        let held = match self.read_beneath(&key, Accept::Fresh).await {
            Beneath::Fresh(value) => return Begin::Done(shape.rebuild(value)),
            Beneath::Lead(lead) => Some(lead),
            Beneath::Stored | Beneath::Nothing => None,
        };
        self.calls.miss();
        if let Some(lead) = held {
            self.calls.load();
            return Begin::Lead(lead);
        }
        if !crate::enabled() {
            self.calls.load();
            return Begin::Run { timed: true };
        }
        match self.turn::<Tokio>(&key, None, &mut false).await {
            Turn::Value(value) => Begin::Done(shape.rebuild(value)),
            Turn::Lead(lead) => {
                self.calls.load();
                Begin::Lead(lead)
            }
            // `TimedOut` only ends a wait with a timeout, and this one has none.
            Turn::Run | Turn::TimedOut => {
                self.calls.load();
                Begin::Run { timed: false }
            }
        }
    }

    /// The end of an async miss whose body ran in the call: settles the load it led (or counts
    /// the time of a body run with caching off) and answers. Compiled once per cache and
    /// output, not per function.
    #[allow(clippy::too_many_arguments, reason = "the state of a miss, handed over once")]
    fn end_in_call<S: Shape<Stored = V>, X>(
        &self,
        lead: Option<Lead<'_, K, V>>,
        timed: bool,
        started: std::time::Instant,
        shape: S,
        derive: impl FnOnce(&V) -> Vec<Tag>,
        finish: Finish<X, S::Output>,
        output: std::thread::Result<X>,
    ) -> S::Output {
        let output = output.map(|output| finish.apply(output));
        let output = match lead {
            Some(lead) => self.settle(lead, shape, output, derive, started),
            None => {
                if timed {
                    self.record_load_time(started.elapsed());
                }
                output.map(|(_, output)| output)
            }
        };
        output.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}
