//! Request scope: within one request (or job), equal calls of a `#[request_memo]` function run
//! once and share their result.
//!
//! A scope is carried by the task that runs a future under [`scope`] (or under the
//! `RequestMemoLayer` middleware of feature `tower`, which gives every request its own).
//! Outside any scope, memoized functions simply run.
//!
//! ```
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use memo_runtime::request_memo;
//!
//! static QUERIES: AtomicU32 = AtomicU32::new(0);
//!
//! #[request_memo]
//! async fn user_name(id: u64) -> String {
//!     QUERIES.fetch_add(1, Ordering::SeqCst);
//!     format!("user {id}")
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! memo_runtime::scope(async {
//!     user_name(1).await;
//!     user_name(1).await; // the same request: answered from its memo
//! })
//! .await;
//! assert_eq!(QUERIES.load(Ordering::SeqCst), 1);
//!
//! memo_runtime::scope(async { user_name(1).await }).await; // a new request runs it again
//! assert_eq!(QUERIES.load(Ordering::SeqCst), 2);
//! # }
//! ```
//!
//! # Spawned tasks
//!
//! Like every tokio task-local, the scope is **not inherited by `tokio::spawn`**: a spawned
//! task starts outside any scope, so its calls are not memoized with the request's. Wrap the
//! spawned future in [`inherit`] to carry the current scope into it.

pub(crate) mod memo;

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::task::futures::TaskLocalFuture;

pub use memo::MemoSite;
use memo::Tables;
pub use memo::{request_memo, request_memo_async};

tokio::task_local! {
    static CURRENT: Option<Scope>;
}

/// Scopes alive in this process.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// One request's memo. Cheap to clone (a shared handle); dropped with its last clone, which
/// drops every value memoized in it.
#[derive(Clone)]
pub struct Scope {
    inner: Arc<Inner>,
}

struct Inner {
    tables: Mutex<Tables>,
    max_entries: usize,
    /// Per-site state of the calls gathered into batches (see `Cache::get_gathered`), by the
    /// address of what gathers them.
    gathers: Mutex<std::collections::HashMap<usize, Box<dyn std::any::Any + Send>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope").field("entries", &self.len()).field("max_entries", &self.inner.max_entries).finish()
    }
}

impl Default for Scope {
    fn default() -> Self {
        Self::new()
    }
}

impl Scope {
    /// A new, empty scope with no bound on its entries.
    #[must_use]
    pub fn new() -> Self {
        Self::with_max_entries(usize::MAX)
    }

    /// A new scope that memoizes at most `max_entries` results; calls beyond that still run
    /// (and share concurrent runs) but their results are not kept.
    ///
    /// ```
    /// let scope = memo_runtime::Scope::with_max_entries(1_000);
    /// assert_eq!(scope.len(), 0);
    /// ```
    #[must_use]
    pub fn with_max_entries(max_entries: usize) -> Self {
        LIVE.fetch_add(1, Ordering::Relaxed);
        Self {
            inner: Arc::new(Inner { tables: Mutex::new(Tables::default()), max_entries, gathers: Mutex::default() }),
        }
    }

    /// Runs `f` on this scope's state of type `G` for `site`, made on first use.
    pub(crate) fn with_state<G: std::any::Any + Send + Default, R>(
        &self,
        site: usize,
        f: impl FnOnce(&mut G) -> R,
    ) -> R {
        let mut gathers = self.inner.gathers.lock().unwrap_or_else(PoisonError::into_inner);
        let state = gathers.entry(site).or_insert_with(|| Box::new(G::default()));
        if !state.is::<G>() {
            // One site, one type: another type here would be a bug in memo; start afresh.
            *state = Box::new(G::default());
        }
        match state.downcast_mut::<G>() {
            Some(state) => f(state),
            None => f(&mut G::default()),
        }
    }

    /// Results memoized in this scope.
    ///
    /// ```
    /// #[memo_runtime::request_memo]
    /// fn double(x: u32) -> u32 { x * 2 }
    ///
    /// let scope = memo_runtime::Scope::new();
    /// scope.clone().run_sync(|| { double(1); double(1); double(2); });
    /// assert_eq!(scope.len(), 2);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().entries
    }

    /// Whether nothing is memoized yet.
    ///
    /// ```
    /// assert!(memo_runtime::Scope::new().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Results not kept because the scope was full.
    ///
    /// ```
    /// #[memo_runtime::request_memo]
    /// fn double(x: u32) -> u32 { x * 2 }
    ///
    /// let scope = memo_runtime::Scope::with_max_entries(1);
    /// scope.clone().run_sync(|| { double(1); double(2); });
    /// assert_eq!((scope.len(), scope.skipped()), (1, 1));
    /// ```
    #[must_use]
    pub fn skipped(&self) -> usize {
        self.lock().skipped
    }

    /// Runs `fut` in this scope.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let scope = memo_runtime::Scope::new();
    /// let inside = scope.clone().run(async { memo_runtime::scope::current().is_some() }).await;
    /// assert!(inside);
    /// # }
    /// ```
    pub fn run<F: Future>(self, fut: F) -> TaskLocalFuture<Option<Scope>, F> {
        CURRENT.scope(Some(self), fut)
    }

    /// Runs the synchronous `f` in this scope.
    ///
    /// ```
    /// let scope = memo_runtime::Scope::new();
    /// assert!(scope.run_sync(|| memo_runtime::scope::current().is_some()));
    /// ```
    pub fn run_sync<R>(self, f: impl FnOnce() -> R) -> R {
        CURRENT.sync_scope(Some(self), f)
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        self.inner.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The scope the current task runs in, if any.
///
/// ```
/// assert!(memo_runtime::scope::current().is_none());
/// memo_runtime::scope::sync_scope(|| assert!(memo_runtime::scope::current().is_some()));
/// ```
#[must_use]
pub fn current() -> Option<Scope> {
    CURRENT.try_with(Clone::clone).ok().flatten()
}

/// Whether the current task runs in a scope.
#[doc(hidden)]
#[inline]
#[must_use]
pub fn in_scope() -> bool {
    CURRENT.try_with(Option::is_some).unwrap_or(false)
}

/// Runs `fut` in a fresh scope, or in the current one if there is one (nested scopes reuse the
/// enclosing scope). For jobs, CLI commands and tests; HTTP services use
/// `RequestMemoLayer` (feature `tower`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// memo_runtime::scope(async {
///     let outer = memo_runtime::scope::current().unwrap();
///     memo_runtime::scope(async move {
///         let inner = memo_runtime::scope::current().unwrap();
///         assert_eq!(format!("{outer:?}"), format!("{inner:?}"));
///     })
///     .await;
/// })
/// .await;
/// # }
/// ```
pub fn scope<F: Future>(fut: F) -> TaskLocalFuture<Option<Scope>, F> {
    current().unwrap_or_default().run(fut)
}

/// The synchronous form of [`scope`].
///
/// ```
/// let len = memo_runtime::scope::sync_scope(|| memo_runtime::scope::current().map(|s| s.len()));
/// assert_eq!(len, Some(0));
/// ```
pub fn sync_scope<R>(f: impl FnOnce() -> R) -> R {
    current().unwrap_or_default().run_sync(f)
}

/// Carries the current scope (if any) into a future that will run elsewhere, such as a
/// `tokio::spawn`ed task, which does not inherit task-locals.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// memo_runtime::scope(async {
///     let lost = tokio::spawn(async { memo_runtime::scope::current().is_some() });
///     let kept = tokio::spawn(memo_runtime::scope::inherit(async { memo_runtime::scope::current().is_some() }));
///     assert!(!lost.await.unwrap());
///     assert!(kept.await.unwrap());
/// })
/// .await;
/// # }
/// ```
pub fn inherit<F: Future>(fut: F) -> TaskLocalFuture<Option<Scope>, F> {
    CURRENT.scope(current(), fut)
}

/// Scopes alive in this process (a leak check: it returns to its previous value when the
/// requests that created scopes are done).
///
/// ```
/// let before = memo_runtime::scope::live();
/// let scope = memo_runtime::Scope::new();
/// assert_eq!(memo_runtime::scope::live(), before + 1);
/// drop(scope);
/// assert_eq!(memo_runtime::scope::live(), before);
/// ```
#[must_use]
pub fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}
