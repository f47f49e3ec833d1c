//! The kill switch: turn every cache off at once, to debug or to measure what caching buys.
//!
//! With caching off, every `#[cached]` and `#[request_memo]` call runs its function's body (no
//! lookup, no single-flight, no timeout or stale-if-error, nothing stored, nothing read from or
//! written to the L2) and [`warm`](crate::warm()) does nothing;
//! invalidations still apply, so turning caching back on serves nothing a write made stale.
//! It starts off when the environment variable `MEMO_DISABLE` is `1`, `true` or `yes` when the
//! first cache is used, and [`set_enabled`] flips it at run time.
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

use std::sync::atomic::{AtomicU8, Ordering};

const UNSET: u8 = 0;
const ON: u8 = 1;
const OFF: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(UNSET);

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
    match STATE.load(Ordering::Relaxed) {
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
    STATE.store(if on { ON } else { OFF }, Ordering::Relaxed);
}

#[cold]
fn from_env() -> bool {
    let off = std::env::var(DISABLE_VAR).is_ok_and(|v| is_truthy(&v));
    // A concurrent `set_enabled` wins over the environment.
    let _ = STATE.compare_exchange(UNSET, if off { OFF } else { ON }, Ordering::Relaxed, Ordering::Relaxed);
    STATE.load(Ordering::Relaxed) == ON
}

fn is_truthy(value: &str) -> bool {
    matches!(value.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
}

#[cfg(test)]
mod tests {
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
