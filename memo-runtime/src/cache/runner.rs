//! The one place where sync and async functions differ: how a caller waits for a flight, how a
//! load runs apart from its caller, and where background reloads run.
//!
//! The miss path is written once, as async code generic over a [`Runner`]. An async function
//! drives it with [`Tokio`]; a sync function drives it on its own thread with [`drive`] and
//! [`Blocking`], whose waits block the thread inside the poll, so that the future is ready
//! at its first poll and costs no allocation.

use std::sync::Arc;
use std::time::Duration;

use super::flight::{Flight, Joined, Turn, Waited};
use crate::background;

/// A load that runs apart from its caller. Boxed: it is one allocation beside a thread hand-off
/// or a task, and a named type keeps the futures that hand it over `Send` (an opaque one, with
/// the cache's lifetime inside, defeats the compiler's check; rust-lang/rust#100013).
pub(crate) type Job<O> = std::pin::Pin<Box<dyn Future<Output = O> + Send>>;

/// How a caller waits and where its loads run.
pub(crate) trait Runner {
    /// Whether a wait can end at a timeout here.
    fn can_time() -> bool;

    /// Whether a miss reads the tier beneath the L1 (the L2, whose client is async).
    fn reads_tier() -> bool;

    /// Waits for `flight`'s load to end, or for `timeout` to pass.
    fn wait<V: Clone>(flight: &Arc<Flight<V>>, timeout: Option<Duration>) -> impl Future<Output = Waited<V>>;

    /// Hands `job` to another thread or task and returns the caller's wait for its output, at
    /// most `timeout`; the job goes on when the wait ends first. When nothing can take the job
    /// now, the caller runs it. (Boxed for the same reason as [`Job`].)
    fn run_apart<O: Send + 'static>(job: Job<O>, timeout: Duration) -> Job<Waited<O>>;

    /// Starts a background job (a reload); false when nothing can take it now, in which case
    /// it is dropped.
    fn spawn(job: Job<()>) -> bool;
}

/// A sync function's runner: blocking waits, loads apart on the bounded load pool.
pub(crate) struct Blocking;

impl Runner for Blocking {
    fn can_time() -> bool {
        true
    }

    fn reads_tier() -> bool {
        false
    }

    async fn wait<V: Clone>(flight: &Arc<Flight<V>>, timeout: Option<Duration>) -> Waited<V> {
        flight.wait_blocking(timeout)
    }

    fn run_apart<O: Send + 'static>(job: Job<O>, timeout: Duration) -> Job<Waited<O>> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let job: background::Job = Box::new(move || drop(tx.send(background::block_on(job))));
        if let Err(job) = background::spawn(job) {
            job(); // every pool thread is busy: this call loads, and waits for its load
        }
        Box::pin(std::future::ready(match rx.recv_timeout(timeout) {
            Ok(output) => Waited::Value(output),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Waited::TimedOut,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Waited::Retry,
        }))
    }

    fn spawn(job: Job<()>) -> bool {
        spawned(background::spawn(Box::new(move || background::block_on(job))).is_ok())
    }
}

/// An async function's runner: awaited waits, loads apart as tasks of the current tokio
/// runtime (outside one, background reloads go to the load pool and timed loads run in the
/// caller).
pub(crate) struct Tokio;

impl Runner for Tokio {
    fn can_time() -> bool {
        tokio::runtime::Handle::try_current().is_ok()
    }

    fn reads_tier() -> bool {
        true
    }

    async fn wait<V: Clone>(flight: &Arc<Flight<V>>, timeout: Option<Duration>) -> Waited<V> {
        flight.wait(timeout).await
    }

    fn run_apart<O: Send + 'static>(job: Job<O>, timeout: Duration) -> Job<Waited<O>> {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // Not reached: callers check `can_time` first. Without a runtime to time the wait,
            // it blocks like a sync function's.
            return Blocking::run_apart(job, timeout);
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        runtime.spawn(async move { drop(tx.send(job.await)) });
        Box::pin(async move {
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(output)) => Waited::Value(output),
                Ok(Err(_)) => Waited::Retry,
                Err(_) => Waited::TimedOut,
            }
        })
    }

    fn spawn(job: Job<()>) -> bool {
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                drop(runtime.spawn(job));
                true
            }
            Err(_) => Blocking::spawn(job),
        }
    }
}

fn spawned(started: bool) -> bool {
    if !started {
        tracing::debug!("background reload skipped: every load thread is busy");
    }
    started
}

/// The one flight loop, of caches and request scopes alike: `join` the key's flight or lead
/// it; as a waiter take the flight's value, or join again when its load failed, was abandoned
/// or invalidated; stop waiting at `after`. `first_wait` runs when the call is first answered
/// by another call's load: when it first waits, or when that load ended just before it joined.
pub(crate) async fn turn<R: Runner, L, V: Clone>(
    mut join: impl FnMut() -> Joined<L, V>,
    after: Option<Duration>,
    mut first_wait: Option<impl FnOnce()>,
) -> Turn<L, V> {
    loop {
        let flight = match join() {
            Joined::Hit(value) => {
                if let Some(first_wait) = first_wait.take() {
                    first_wait();
                }
                return Turn::Value(value);
            }
            Joined::Lead(lead) => return Turn::Lead(lead),
            // A load calling itself with the same key: waiting would never end.
            Joined::Wait(flight) if flight.runs_here() => return Turn::Run,
            Joined::Wait(flight) => flight,
        };
        if let Some(first_wait) = first_wait.take() {
            first_wait();
        }
        match R::wait(&flight, after).await {
            Waited::Value(value) if !flight.is_invalidated() => return Turn::Value(value),
            Waited::Value(_) | Waited::Retry => {}
            Waited::TimedOut => return Turn::TimedOut,
        }
    }
}

/// Runs a sync function's miss path on this thread (see the module docs), pinned where it was
/// made: a miss's state is large, and moving it costs a copy.
pub(crate) fn drive<F: Future + ?Sized>(future: std::pin::Pin<&mut F>) -> F::Output {
    background::block_on_pinned(future)
}
