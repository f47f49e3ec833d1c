//! The kill switch: turn every cache off at once, to debug or to measure what caching buys.
//!
//! With caching off, every `#[cached]` and `#[request_memo]` call runs its function's body (no
//! lookup, no single-flight, no timeout or stale-if-error, nothing stored, nothing read from or
//! written to the L2) and [`warm`](crate::warm()) does nothing;
//! invalidations still apply, so turning caching back on serves nothing a write made stale.
//! It starts off when the environment variable `MEMO_DISABLE` is `1`, `true` or `yes` when the
//! first cache is used, and [`set_enabled`] flips it at run time.
//!
//! [`bypass`] (and [`sync_bypass`]) turns the reading off for the calls in one future or
//! closure only: they load and store as after a miss.
//!
//! ```
//! use memo_runtime::cached;
//!
//! #[cached]
//! fn square(x: u64) -> u64 {
//!     x * x
//! }
//!
//! fn main() {
//!     memo_runtime::set_enabled(false);
//!     square(3);
//!     square(3);
//!     assert_eq!(square::stats().loads, 2, "both calls ran the body");
//!
//!     memo_runtime::set_enabled(true);
//!     square(3);
//!     square(3);
//!     assert_eq!(square::stats().loads, 3, "one more load, then a hit");
//! }
//! ```

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

const UNSET: usize = 0;
const ON: usize = 1;
const OFF: usize = 2;
/// The switch's state in the two low bits of [`STATE`]; above them, how many threads are
/// bypassing the caches right now (see [`bypass`]), so that the hit path asks one atomic.
const SWITCH: usize = 0b11;
const BYPASSER: usize = 0b100;

static STATE: AtomicUsize = AtomicUsize::new(UNSET);

/// The environment variable that turns caching off at startup.
pub const DISABLE_VAR: &str = "MEMO_DISABLE";

/// Whether caching is on: true unless `MEMO_DISABLE` says otherwise or [`set_enabled`]
/// turned it off.
///
/// ```
/// memo_runtime::set_enabled(true);
/// assert!(memo_runtime::enabled());
/// ```
#[inline]
pub fn enabled() -> bool {
    match STATE.load(Ordering::Relaxed) & SWITCH {
        ON => true,
        OFF => false,
        _ => from_env(),
    }
}

/// Turns every cache on or off, overriding `MEMO_DISABLE`.
///
/// ```
/// memo_runtime::set_enabled(false);
/// assert!(!memo_runtime::enabled());
/// memo_runtime::set_enabled(true);
/// ```
pub fn set_enabled(on: bool) {
    let to = if on { ON } else { OFF };
    let _ = STATE.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |state| Some(state & !SWITCH | to));
}

#[cold]
fn from_env() -> bool {
    let off = std::env::var(DISABLE_VAR).is_ok_and(|v| is_truthy(&v));
    // A concurrent `set_enabled` wins over the environment.
    let to = if off { OFF } else { ON };
    let _ = STATE
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |state| (state & SWITCH == UNSET).then_some(state | to));
    STATE.load(Ordering::Relaxed) & SWITCH == ON
}

/// Whether a call on this thread may answer from a cache: caching is on and the call is not
/// bypassing. One relaxed load unless some thread bypasses right now.
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn reads() -> bool {
    STATE.load(Ordering::Relaxed) == ON || reads_slow()
}

#[cold]
fn reads_slow() -> bool {
    enabled() && READS.get() == Reads::Cached
}

/// How the calls on a thread read the caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reads {
    /// As usual.
    Cached,
    /// Not at all: every call loads and stores what it loaded, and so do the calls its load
    /// makes ([`bypass`]).
    Bypassed,
    /// Not for this call, which reloads; the calls its load makes read as usual (a handle's
    /// `refresh`).
    Refreshed,
}

impl Reads {
    /// This thread's mode.
    pub(crate) fn current() -> Self {
        READS.get()
    }

    /// How the calls made by a load started in this mode read: a refresh is for its own call.
    pub(crate) fn for_load(self) -> Self {
        match self {
            Reads::Refreshed => Reads::Cached,
            other => other,
        }
    }

    /// Sets this thread's mode until the guard drops.
    pub(crate) fn enter(self) -> ReadsGuard {
        ReadsGuard { before: set(self) }
    }
}

thread_local! {
    static READS: Cell<Reads> = const { Cell::new(Reads::Cached) };
}

/// Sets this thread's mode, keeping the count of bypassing threads; returns the one before.
fn set(reads: Reads) -> Reads {
    let before = READS.replace(reads);
    match (before == Reads::Cached, reads == Reads::Cached) {
        (true, false) => {
            STATE.fetch_add(BYPASSER, Ordering::Relaxed);
        }
        (false, true) => {
            STATE.fetch_sub(BYPASSER, Ordering::Relaxed);
        }
        _ => {}
    }
    before
}

/// Puts back the mode a thread had (see [`Reads::enter`]).
pub(crate) struct ReadsGuard {
    before: Reads,
}

impl Drop for ReadsGuard {
    fn drop(&mut self) {
        set(self.before);
    }
}

/// A future run in one mode of reading the caches: what [`bypass`] returns.
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Bypass<F> {
    reads: Reads,
    inner: F,
}

impl<F> Bypass<F> {
    /// `inner`, polled in mode `reads`.
    pub(crate) fn new(reads: Reads, inner: F) -> Self {
        Self { reads, inner }
    }
}

impl<F: Future> Future for Bypass<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `inner` is pinned with `self` and never moved out.
        let (reads, inner) = unsafe {
            let this = self.get_unchecked_mut();
            (this.reads, Pin::new_unchecked(&mut this.inner))
        };
        let _reads = reads.enter();
        inner.poll(cx)
    }
}

/// Runs `fut` bypassing every cache: its cached calls read no cache layer (neither the L1 nor
/// the L2, and they wait for no load already running), run their bodies, and store and
/// publish what they load, as after a miss; the calls those bodies make are bypassed too.
/// Request memos (`#[request_memo]`) still share values within the request.
///
/// For a request that must see the source (an operator's "reload", a client's
/// `Cache-Control: no-cache`, see `RequestMemoLayer::bypass_on_no_cache`). Like a task-local,
/// it is not inherited by `tokio::spawn`, and loads that run in the background (`stale`,
/// `timeout`) carry it with them.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use memo_runtime::cached;
///
/// #[cached(ttl = "5m")]
/// async fn price(id: u64) -> u64 {
///     id * 100
/// }
///
/// price(1).await;
/// price(1).await;
/// assert_eq!(price::stats().loads, 1, "the second call was a hit");
/// memo_runtime::bypass(price(1)).await;
/// assert_eq!(price::stats().loads, 2, "bypassed: loaded again");
/// price(1).await;
/// assert_eq!(price::stats().loads, 2, "and stored: a hit again");
/// # }
/// ```
pub fn bypass<F: Future>(fut: F) -> Bypass<F> {
    Bypass::new(Reads::Bypassed, fut)
}

/// [`bypass`] for sync code: runs `f` on this thread with every cached call in it bypassing
/// the caches.
///
/// ```
/// use memo_runtime::cached;
///
/// #[cached]
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// square(3);
/// memo_runtime::sync_bypass(|| square(3));
/// assert_eq!(square::stats().loads, 2);
/// square(3);
/// assert_eq!(square::stats().hits, 1, "the bypassed call stored its value");
/// ```
pub fn sync_bypass<R>(f: impl FnOnce() -> R) -> R {
    let _reads = Reads::Bypassed.enter();
    f()
}

/// Runs one cached call as a refresh (what a handle's `refresh` does): it reads no cache,
/// loads, stores and publishes; the calls its body makes read as usual.
#[doc(hidden)]
pub fn sync_refresh<R>(call: impl FnOnce() -> R) -> R {
    let _reads = Reads::Refreshed.enter();
    call()
}

/// The async form of [`sync_refresh`].
#[doc(hidden)]
pub fn refresh<F: Future>(call: F) -> Bypass<F> {
    Bypass::new(Reads::Refreshed, call)
}

fn is_truthy(value: &str) -> bool {
    matches!(value.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
}

#[cfg(test)]
mod tests {
    use super::{BYPASSER, Ordering, READS, Reads, STATE};

    #[test]
    fn a_bypass_counts_its_thread_while_it_runs_and_outlives_a_flip_of_the_switch() {
        let bypassers = || STATE.load(Ordering::Relaxed) / BYPASSER;
        super::sync_bypass(|| {
            assert!(!super::reads());
            assert!(bypassers() >= 1);
            super::set_enabled(true);
            assert!(bypassers() >= 1, "the switch keeps the count");
            assert!(!super::reads());
            // Nested modes put back the one they found.
            super::sync_refresh(|| assert_eq!(Reads::current(), Reads::Refreshed));
            assert_eq!(Reads::current(), Reads::Bypassed);
        });
        assert_eq!(READS.get(), Reads::Cached);
        assert_eq!(Reads::Refreshed.for_load(), Reads::Cached, "a refresh is for its own call");
        assert_eq!(Reads::Bypassed.for_load(), Reads::Bypassed, "a bypass reaches the loads' calls");
    }

    #[test]
    fn reads_the_usual_spellings_of_yes() {
        for yes in ["1", "true", "TRUE", " yes ", "on"] {
            assert!(super::is_truthy(yes), "{yes:?}");
        }
        for no in ["", "0", "false", "no", "off", "2"] {
            assert!(!super::is_truthy(no), "{no:?}");
        }
    }
}
