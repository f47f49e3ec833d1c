//! Single-flight: one load per key at a time, the other callers wait for its result.
//!
//! A flight is registered for a key when a miss finds none running. Its leader runs the load
//! (in the caller, or in a background task for loads in background mode); callers that miss meanwhile
//! wait on the flight, blocking (sync functions) or awaiting (async functions). When the load
//! finishes the flight publishes the value. When it fails, panics or is dropped (cancelled),
//! its guard marks the flight abandoned and every waiter retries, one of them becoming the next
//! leader. No waiter is left hanging and nothing stays locked.
//!
//! Caches and request scopes keep their own tables of flights and share the loop that joins,
//! waits and retries ([`runner::turn`](super::runner::turn)), through [`Joined`] and [`Turn`].
//!
//! A load that calls its own function with the same key (directly, or through other cached
//! functions) would wait for itself. Each thread therefore knows which flights' loads it is
//! running at this moment (a load's future is wrapped so that every poll marks it: [`RunsHere`],
//! or the cache's load wrapper; a sync load is polled once); a call that finds such a flight
//! runs the body again instead of waiting, for sync and async functions alike.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// One shard of a cache's flights: the loads running for the keys that hash to it.
pub(crate) type Shard<K, V> = HashMap<K, Arc<Flight<V>>, foldhash::fast::RandomState>;

/// A shard behind its own lock, alone on its cache line.
type Locked<K, V> = Padded<Mutex<Shard<K, V>>>;

/// A cache's flights by key, in shards chosen by the key's hash so that misses on different
/// keys seldom take the same lock. Each shard's lock sits on its own cache line.
#[derive(Debug)]
pub(crate) struct Flights<K, V> {
    shards: Box<[Locked<K, V>]>,
    hasher: foldhash::fast::RandomState,
}

/// A value alone on its cache line (128 bytes: two lines, as adjacent lines are fetched in
/// pairs), so that writes to it do not slow reads of its neighbours.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

impl<K: Hash + Eq, V> Flights<K, V> {
    /// A table with four shards per core, at most 64.
    pub(crate) fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let shards = (cores * 4).next_power_of_two().min(64);
        let hasher = foldhash::fast::RandomState::default();
        Self { shards: (0..shards).map(|_| Padded(Mutex::new(HashMap::with_hasher(hasher.clone())))).collect(), hasher }
    }

    /// The shard that holds `key`'s flight, locked.
    pub(crate) fn lock(&self, key: &K) -> MutexGuard<'_, Shard<K, V>> {
        // The high bits: the shard's map uses the low ones.
        let at = (self.hasher.hash_one(key) >> 58) as usize & (self.shards.len() - 1);
        self.shards[at].0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Calls `each` with every flight running now, one shard locked at a time.
    pub(crate) fn for_each(&self, mut each: impl FnMut(&Flight<V>)) {
        for shard in &self.shards {
            shard.0.lock().unwrap_or_else(PoisonError::into_inner).values().for_each(|flight| each(flight));
        }
    }

    /// Whether no load runs now.
    #[cfg(feature = "test-util")]
    pub(crate) fn is_empty(&self) -> bool {
        self.shards.iter().all(|shard| shard.0.lock().unwrap_or_else(PoisonError::into_inner).is_empty())
    }
}

#[derive(Debug)]
enum State<V> {
    Running,
    Ready(V),
    Abandoned,
}

/// A flight's state and whether anyone waited for it: the leader wakes only the kinds of
/// waiters there were, so a load nobody waited for finishes without a system call.
#[derive(Debug)]
struct Shared<V> {
    state: State<V>,
    /// A sync caller blocked on `ready`.
    blocked: bool,
    /// An async caller awaited `notify`.
    awaited: bool,
}

thread_local! {
    /// The flights whose loads this thread is running now, innermost last.
    static RUNNING: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Marks a flight's load as running on this thread until dropped (also when the load panics).
pub(super) struct Running(usize);

impl Running {
    /// Marks the flight with this [`id`](Flight::id).
    pub(super) fn enter(id: usize) -> Self {
        RUNNING.with_borrow_mut(|running| running.push(id));
        Self(id)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.with_borrow_mut(|running| {
            if let Some(at) = running.iter().rposition(|&id| id == self.0) {
                running.remove(at);
            }
        });
    }
}

/// A flight's load as a future: every poll runs as the flight's load (see
/// [`Flight::runs_here`]), so that the load calling its own function with the same key, on
/// whichever thread polls it, runs instead of waiting for itself.
pub(crate) struct RunsHere<'f, F> {
    id: usize,
    inner: Pin<&'f mut F>,
}

impl<'f, F: Future> RunsHere<'f, F> {
    pub(crate) fn new<V: Clone>(flight: &Arc<Flight<V>>, inner: Pin<&'f mut F>) -> Self {
        Self { id: flight.id(), inner }
    }
}

impl<F: Future> Future for RunsHere<'_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _running = Running::enter(self.id);
        self.inner.as_mut().poll(cx)
    }
}

/// What a call found when it looked for its key's flight (in a cache or a request scope).
pub(crate) enum Joined<L, V> {
    /// A value is there: no flight needed.
    Hit(V),
    /// Nobody loads the key: this call leads, holding `L`.
    Lead(L),
    /// Another call is loading it.
    Wait(Arc<Flight<V>>),
}

/// Where a call's turn at its key's flight ended (see [`runner::turn`](super::runner::turn)).
pub(crate) enum Turn<L, V> {
    /// The value: found, or the load this call waited for.
    Value(V),
    /// Nobody loads the key: this call leads.
    Lead(L),
    /// This thread or task is running the key's load already (a load calling itself): run
    /// the body in the call, storing nothing.
    Run,
    /// The wait ended at its deadline.
    TimedOut,
}

/// What a waiter got.
#[derive(Debug)]
pub(crate) enum Waited<V> {
    Value(V),
    /// The load failed or was abandoned: retry.
    Retry,
    /// The wait's deadline passed first.
    TimedOut,
}

/// One in-progress load of one key.
#[derive(Debug)]
pub(crate) struct Flight<V> {
    shared: Mutex<Shared<V>>,
    ready: Condvar,
    notify: Notify,
    /// Set when the key (or the whole cache) is invalidated during the load: the result still
    /// answers the callers that were waiting, but is not stored.
    invalidated: AtomicBool,
    /// When the load began (coarse clock ms): an invalidation from another instance stales
    /// the loads that began before it.
    #[cfg_attr(not(feature = "redis"), allow(dead_code, reason = "read by the L2 backplane only"))]
    pub(crate) started_at: u64,
}

impl<V: Clone> Flight<V> {
    pub(crate) fn new() -> Self {
        Self {
            shared: Mutex::new(Shared { state: State::Running, blocked: false, awaited: false }),
            ready: Condvar::new(),
            notify: Notify::new(),
            invalidated: AtomicBool::new(false),
            started_at: crate::clock::now_millis_fast(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Shared<V>> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn invalidate(&self) {
        self.invalidated.store(true, Ordering::Release);
    }

    pub(crate) fn is_invalidated(&self) -> bool {
        self.invalidated.load(Ordering::Acquire)
    }

    /// What tells this flight from the others running (its address).
    pub(super) fn id(&self) -> usize {
        std::ptr::from_ref(self).addr()
    }

    /// Whether this thread is inside this flight's load right now: a call that would wait for
    /// it is the load calling itself.
    pub(crate) fn runs_here(&self) -> bool {
        let id = self.id();
        RUNNING.with_borrow(|running| running.contains(&id))
    }

    fn finish(&self, state: State<V>) {
        let (blocked, awaited) = {
            let mut shared = self.lock();
            shared.state = state;
            (shared.blocked, shared.awaited)
        };
        if blocked {
            self.ready.notify_all();
        }
        if awaited {
            self.notify.notify_waiters();
        }
    }

    pub(crate) fn complete(&self, value: V) {
        self.finish(State::Ready(value));
    }

    pub(crate) fn abandon(&self) {
        self.finish(State::Abandoned);
    }

    fn result(state: &State<V>) -> Option<Waited<V>> {
        match state {
            State::Running => None,
            State::Ready(value) => Some(Waited::Value(value.clone())),
            State::Abandoned => Some(Waited::Retry),
        }
    }

    /// Blocks until the load finishes or `timeout` passes.
    pub(crate) fn wait_blocking(&self, timeout: Option<Duration>) -> Waited<V> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut shared = self.lock();
        loop {
            if let Some(out) = Self::result(&shared.state) {
                return out;
            }
            shared.blocked = true;
            shared = match deadline {
                None => self.ready.wait(shared).unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Waited::TimedOut;
                    }
                    self.ready.wait_timeout(shared, left).unwrap_or_else(PoisonError::into_inner).0
                }
            };
        }
    }

    /// Waits until the load finishes or `timeout` passes (tokio time).
    pub(crate) async fn wait(&self, timeout: Option<Duration>) -> Waited<V> {
        match timeout {
            None => self.wait_forever().await,
            Some(timeout) => tokio::time::timeout(timeout, self.wait_forever()).await.unwrap_or(Waited::TimedOut),
        }
    }

    async fn wait_forever(&self) -> Waited<V> {
        loop {
            let notified = self.notify.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            {
                let mut shared = self.lock();
                if let Some(out) = Self::result(&shared.state) {
                    return out;
                }
                // Registered before the state was read: the leader, which sets the state
                // under this lock, sees the flag and wakes it.
                shared.awaited = true;
            }
            notified.await;
        }
    }
}
