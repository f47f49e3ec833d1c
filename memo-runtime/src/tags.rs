//! Invalidation by tag, across every cached function.
//!
//! An entry carries the tags its function gave it (`tags = [...]`, `tags_from = ...`).
//! [`invalidate_tag`] makes every entry carrying the tag stale at once, in every cache, at a
//! cost that does not depend on how many entries there are: it records the tag with the next
//! value of a global invalidation sequence, and reads compare an entry's tags against those
//! records lazily.
//!
//! ```
//! use memo_runtime::cached;
//!
//! #[cached(ttl = 300, tags = [format!("product:{id}"), "products"])]
//! fn price(id: u64) -> u64 {
//!     id * 100
//! }
//!
//! fn main() {
//!     price(1);
//!     price(2);
//!     memo_runtime::invalidate_tag("product:1");
//!     price(1); // reloaded
//!     price(2); // still cached
//!     assert_eq!(price::stats().loads, 3);
//!     assert_eq!(price::stats().invalidations.tags, 1);
//! }
//! ```
//!
//! # How reads stay cheap
//!
//! Each entry remembers the sequence value at which its load started and the last value at
//! which its tags were found valid. A hit on a tagged entry reads the global sequence (one
//! relaxed load of a value that changes only on invalidation); when it equals the remembered
//! one, nothing was invalidated since and the hit goes on. Only after an invalidation does a hit
//! look its tags up, once, and remember the new sequence value.
//!
//! # Bounded memory
//!
//! The records of the latest [`MAX_REMEMBERED`] invalidations are kept. When an older record
//! is dropped, a floor rises to its sequence value, and tagged entries whose load started
//! below the floor count as invalidated: an extra reload in the rare case, never a stale value.
//!
//! # Race safety
//!
//! Because an entry's tags are judged against the sequence value at which its load *started*,
//! a load that read the database before an update and finishes after the update's
//! `invalidate_tag` is stale as soon as it is stored.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, OnceLock, PoisonError};

type Hasher = foldhash::fast::RandomState;

/// A tag: a cheap-to-clone shared string.
pub type Tag = Arc<str>;

/// How many invalidation records are kept before the oldest is folded into the floor.
pub const MAX_REMEMBERED: usize = 100_000;

/// The sequence value at which every tagged entry's tags were checked as invalid.
pub(crate) const INVALID: u64 = u64::MAX;

/// Bumped by every invalidation by tag.
static SEQUENCE: AtomicU64 = AtomicU64::new(1);
/// Tagged entries whose load started below this count as invalidated.
static FLOOR: AtomicU64 = AtomicU64::new(0);

#[derive(Default)]
struct Records {
    /// Tag -> (sequence value, wall-clock ms) of its latest invalidation.
    latest: HashMap<Tag, (u64, u64), Hasher>,
    order: VecDeque<(Tag, u64)>,
    /// The wall-clock ms of the newest record folded into the floor.
    floor_millis: u64,
}

static RECORDS: LazyLock<Mutex<Records>> = LazyLock::new(Mutex::default);

fn records() -> MutexGuard<'static, Records> {
    RECORDS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The current invalidation sequence value; a load records it when it starts.
#[cfg_attr(not(debug_assertions), inline(always))]
pub(crate) fn sequence() -> u64 {
    SEQUENCE.load(Ordering::Acquire)
}

/// Makes every cached entry carrying `tag` stale, in every cached function.
///
/// O(1): the entries are found invalid when next read.
///
/// ```
/// memo_runtime::invalidate_tag("user:42");
/// memo_runtime::invalidate_tag(String::from("orders"));
/// ```
pub fn invalidate_tag(tag: impl AsRef<str>) {
    invalidate_tags([tag]);
}

/// [`invalidate_tag`] for several tags at once.
///
/// ```
/// let ids = [1, 2, 3];
/// memo_runtime::invalidate_tags(ids.iter().map(|id| format!("product:{id}")));
/// ```
pub fn invalidate_tags<I>(tags: I)
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    match FORWARD.get() {
        Some(forward) => {
            let tags: Vec<I::Item> = tags.into_iter().collect();
            for tag in &tags {
                forward(tag.as_ref());
            }
            invalidate_tags_local(tags);
        }
        None => invalidate_tags_local(tags),
    }
}

/// Where invalidations by tag go besides this process: set by the L2, which tells the other
/// instances.
static FORWARD: OnceLock<fn(&str)> = OnceLock::new();

/// Sends every invalidation by tag made in this process to `forward` as well.
#[cfg_attr(not(feature = "redis"), allow(dead_code, reason = "set by the L2 only"))]
pub(crate) fn forward_to(forward: fn(&str)) {
    let _ = FORWARD.set(forward);
}

/// Invalidates tags in this process only (a backplane message from another instance).
pub(crate) fn invalidate_tags_local<I>(tags: I)
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let mut tags = tags.into_iter().peekable();
    if tags.peek().is_none() {
        return;
    }
    let mut records = records();
    for tag in tags {
        let tag: Tag = Arc::from(tag.as_ref());
        // Bump first: a reader that sees the new value and takes the lock finds the record.
        let seq = SEQUENCE.fetch_add(1, Ordering::AcqRel) + 1;
        records.latest.insert(Arc::clone(&tag), (seq, crate::clock::now_millis()));
        records.order.push_back((tag, seq));
    }
    while records.order.len() > MAX_REMEMBERED {
        let Some((tag, seq)) = records.order.pop_front() else { break };
        if let Some(&(latest, millis)) = records.latest.get(&tag)
            && latest == seq
        {
            records.latest.remove(&tag);
            records.floor_millis = records.floor_millis.max(millis);
        }
        FLOOR.fetch_max(seq, Ordering::AcqRel);
    }
}

/// Makes every tagged entry loaded until now invalid, in this process: what another instance
/// asks for when it could not keep every tag it invalidated while Redis was out of reach.
#[cfg(feature = "redis")]
pub(crate) fn invalidate_all_tagged_local() {
    let mut records = records();
    // Bump first, as for one tag: hits compare the sequence, then find the floor above them.
    let seq = SEQUENCE.fetch_add(1, Ordering::AcqRel) + 1;
    FLOOR.fetch_max(seq, Ordering::AcqRel);
    records.floor_millis = records.floor_millis.max(crate::clock::now_millis());
}

/// Whether none of `tags` was invalidated after a load that started at `since`.
#[cold]
pub(crate) fn still_valid(tags: &[Tag], since: u64) -> bool {
    if FLOOR.load(Ordering::Acquire) > since {
        return false;
    }
    let records = records();
    tags.iter().all(|tag| records.latest.get(tag).is_none_or(|(seq, _)| *seq <= since))
}

/// Whether one of `tags` was invalidated in this process at or after `created_at` (wall-clock
/// ms): for entries that come from the L2, whose loads this process's sequence never saw.
#[cfg(feature = "redis")]
pub(crate) fn invalidated_since(tags: &[&str], created_at: u64) -> bool {
    if tags.is_empty() {
        return false;
    }
    let records = records();
    records.floor_millis >= created_at
        || tags.iter().any(|tag| records.latest.get(*tag).is_some_and(|(_, millis)| *millis >= created_at))
}

/// Builds a tag list from a closure's items (`tags_from = ...`).
pub(crate) fn collect<I>(items: I) -> Vec<Tag>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    items.into_iter().map(|t| Arc::from(t.as_ref())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalidation_after_the_load_started_makes_it_invalid() {
        let tags: Vec<Tag> = vec![Arc::from("unit:a"), Arc::from("unit:b")];
        let started = sequence();
        assert!(still_valid(&tags, started));
        invalidate_tag("unit:b");
        assert!(!still_valid(&tags, started));
        assert!(still_valid(&tags, sequence()), "a load that starts after the invalidation is valid");
    }

    #[test]
    fn the_records_stay_bounded() {
        let started = sequence();
        invalidate_tags((0..MAX_REMEMBERED + 10).map(|i| format!("unit:bulk:{i}")));
        let records = records();
        assert!(records.order.len() <= MAX_REMEMBERED);
        assert!(records.latest.len() <= MAX_REMEMBERED);
        drop(records);
        let untouched: Vec<Tag> = vec![Arc::from("unit:never")];
        assert!(!still_valid(&untouched, started), "below the floor: conservatively invalid");
        assert!(still_valid(&untouched, sequence()));
    }
}
