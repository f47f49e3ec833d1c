//! Invalidations on their way to Redis and to the other instances: bounded, retried, never
//! lost, only coarsened.
//!
//! Every invalidation made here (a key, a whole cache, a tag, a write-through) becomes a
//! change: what to remove or record in Redis (so that instances started later know it) and
//! the backplane message that makes running instances drop their copies. One task per L2 sends
//! them in batches, through the [gate](super::gate); when Redis cannot take them, they wait and
//! the task tries again as soon as the breaker lets it (woken when it closes), without waiting
//! for a later invalidation.
//!
//! While they wait they take at most [`OUTBOX_BYTES`]. When an outage produces more, what is
//! waiting is coarsened into a message that covers it: the keys of a cache into a clear of that
//! cache (recorded in Redis as the cache's clear time), the tags into "every tagged entry"
//! (recorded as the namespace's tag floor). Other instances then drop more than they had to,
//! never less; memory stays bounded whatever the outage.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

use super::connection::Batch;
use super::envelope::tombstone;
use super::gate::{Failure, Gate};
use super::keys;
use super::message::Message;
use super::scripts::{BURY_IF_OLDER, SET_MAX};
use crate::notice::Notice;

/// The most memory waiting changes take before they are coarsened.
pub const OUTBOX_BYTES: usize = 1 << 20;

/// Changes sent in one round trip.
const BATCH: usize = 256;

/// How long an invalidation's time is kept in Redis: longer than any entry lives there.
pub(crate) const RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// How long the tombstone of an invalidated entry stays: longer than a write queued behind a
/// call can take to arrive (the write queue holds seconds of work, and drops what fails).
pub(crate) const TOMBSTONE_LIFE: Duration = Duration::from_secs(60);

/// One invalidation, as it is carried out in Redis and announced to the other instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// Copies of one entry made at or before `at` are stale. `put`: a new value made at `at`
    /// was written through, and its own L2 copy stays.
    Key { cache: String, version: u32, entry: String, key: Vec<u8>, at: u64, put: bool },
    /// Copies of a cache's entries made at or before `at` are stale.
    All { cache: String, version: u32, at: u64 },
    /// Entries carrying `tag` made at or before `at` are stale.
    Tag { tag: String, at: u64 },
    /// Every tagged entry made at or before `at` is stale.
    AllTags { at: u64 },
}

impl Change {
    /// About what it takes in memory.
    fn size(&self) -> usize {
        64 + match self {
            Self::Key { cache, entry, key, .. } => cache.len() + entry.len() + key.len(),
            Self::All { cache, .. } => cache.len(),
            Self::Tag { tag, .. } => tag.len(),
            Self::AllTags { .. } => 0,
        }
    }
}

#[derive(Default)]
struct Pending {
    exact: VecDeque<Change>,
    bytes: usize,
    /// Coarsened: caches to clear, with the latest time their clear must cover.
    caches: HashMap<(String, u32), u64>,
    /// Coarsened: every tagged entry, up to this time.
    tags: Option<u64>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.caches.is_empty() && self.tags.is_none()
    }

    /// Folds every exact change into the coarse ones; how many were folded.
    fn coarsen(&mut self) -> usize {
        let folded = self.exact.len();
        for change in self.exact.drain(..) {
            match change {
                Change::Key { cache, version, at, .. } | Change::All { cache, version, at } => {
                    let until = self.caches.entry((cache, version)).or_insert(0);
                    *until = (*until).max(at);
                }
                Change::Tag { at, .. } | Change::AllTags { at } => self.tags = Some(self.tags.unwrap_or(0).max(at)),
            }
        }
        self.bytes = 0;
        folded
    }
}

/// Where the changes go: the namespace's keys and its backplane channel.
#[derive(Debug, Clone)]
pub(crate) struct Destination {
    pub(crate) namespace: String,
    pub(crate) channel: String,
    /// This instance's id, so that it ignores its own messages.
    pub(crate) instance: u64,
}

/// Changes waiting to be sent.
#[derive(Default)]
pub(crate) struct Outbox {
    pending: Mutex<Pending>,
    wake: Notify,
    sent: AtomicU64,
    coarsened: AtomicU64,
    coarsenings: Notice,
    /// A batch is out for sending.
    sending: AtomicBool,
}

impl Outbox {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a change and wakes the sender.
    pub(crate) fn push(&self, change: Change) {
        self.add(change, false);
        self.wake.notify_one();
    }

    fn add(&self, change: Change, front: bool) {
        let mut pending = self.lock();
        let size = change.size();
        if pending.bytes + size > OUTBOX_BYTES {
            let folded = pending.coarsen();
            self.coarsened.fetch_add(folded as u64, Ordering::Relaxed);
            if let Some(times) = self.coarsenings.due() {
                tracing::warn!(
                    folded,
                    times,
                    "memo backplane: invalidations waiting for Redis outgrew the outbox; coarsened into clears of their caches and tags"
                );
            }
        }
        pending.bytes += size;
        if front {
            pending.exact.push_front(change);
        } else {
            pending.exact.push_back(change);
        }
    }

    /// The next batch: coarse changes first, then up to [`BATCH`] exact ones.
    fn take(&self) -> Vec<Change> {
        let mut pending = self.lock();
        let mut batch: Vec<Change> =
            pending.caches.drain().map(|((cache, version), at)| Change::All { cache, version, at }).collect();
        batch.extend(pending.tags.take().map(|at| Change::AllTags { at }));
        let n = pending.exact.len().min(BATCH);
        for change in pending.exact.drain(..n).collect::<Vec<_>>() {
            pending.bytes -= change.size();
            batch.push(change);
        }
        // Under the lock: the batch is never neither waiting nor being sent.
        self.sending.store(!batch.is_empty(), Ordering::Release);
        batch
    }

    /// Puts back a batch that could not be sent, ahead of what came since.
    fn put_back(&self, batch: Vec<Change>) {
        for change in batch.into_iter().rev() {
            self.add(change, true);
        }
        self.sending.store(false, Ordering::Release);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Whether nothing waits and nothing is being sent.
    pub(crate) fn is_idle(&self) -> bool {
        let pending = self.lock();
        pending.is_empty() && !self.sending.load(Ordering::Acquire)
    }

    /// Changes sent, and changes folded into coarser ones.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (self.sent.load(Ordering::Relaxed), self.coarsened.load(Ordering::Relaxed))
    }

    /// Makes the sender try again now (the backplane reconnected).
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Sends what waits, for as long as the process runs.
    pub(crate) async fn run(self: Arc<Self>, gate: Arc<Gate>, to: Destination) {
        loop {
            if self.is_empty() {
                self.wake.notified().await;
                continue;
            }
            let batch = self.take();
            match gate.batch(&commands(&batch, &to)).await {
                // A refusal (out of memory, say) is an answer: every command ran, and the
                // messages went out; sending again would repeat them for as long as Redis says no.
                Ok(_) | Err(Failure::Refused(_)) => {
                    self.sent.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    self.sending.store(false, Ordering::Release);
                }
                Err(Failure::Skipped | Failure::Unreachable) => {
                    self.put_back(batch);
                    // Again when the breaker closes or lets a probe through, whichever is first.
                    let retry = gate.breaker.cooldown().min(Duration::from_millis(100));
                    let _ = tokio::time::timeout(retry, gate.breaker.closes()).await;
                }
            }
        }
    }
}

/// The commands that carry out `batch`: the record in Redis first (a tombstone for an entry,
/// a time for a cache or a tag), then the message (an instance that reloads on the message
/// finds the record).
fn commands(batch: &[Change], to: &Destination) -> Batch {
    let mut commands = Batch::default();
    let retention = RETENTION.as_millis() as u64;
    let script = |script: &str, key: &str, arg: u64| {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(script).arg(1).arg(key).arg(arg);
        cmd
    };
    for change in batch {
        let (record, message) = match change {
            Change::Key { cache, entry, key, at, put, .. } => {
                // A put's own copy (made at `at`) stays; an invalidation removes it too.
                let before = if *put { *at } else { at + 1 };
                let mut cmd = script(BURY_IF_OLDER, entry, before);
                cmd.arg(&tombstone(before)[..]).arg(TOMBSTONE_LIFE.as_millis() as u64);
                (cmd, Message::Key { cache: cache.clone(), key: key.clone(), at: *at })
            }
            Change::All { cache, version, at } => {
                let mut cmd = script(SET_MAX, &keys::cleared_key(&to.namespace, cache, *version), *at);
                cmd.arg(retention);
                (cmd, Message::All { cache: cache.clone() })
            }
            Change::Tag { tag, at } => {
                let mut cmd = script(SET_MAX, &keys::tag_key(&to.namespace, tag), *at);
                cmd.arg(retention);
                (cmd, Message::Tag { tag: tag.clone() })
            }
            Change::AllTags { at } => {
                let mut cmd = script(SET_MAX, &keys::tags_floor_key(&to.namespace), *at);
                cmd.arg(retention);
                (cmd, Message::AllTags)
            }
        };
        commands.add_ignored(record);
        let mut publish = redis::cmd("PUBLISH");
        publish.arg(&to.channel).arg(message.encode(to.instance));
        commands.add_ignored(publish);
    }
    commands
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(cache: &str, id: u64, at: u64) -> Change {
        Change::Key {
            cache: cache.into(),
            version: 1,
            entry: format!("ns:{cache}:v1:{id:032x}"),
            key: id.to_le_bytes().into(),
            at,
            put: false,
        }
    }

    #[test]
    fn an_overflowing_outbox_coarsens_into_clears_that_cover_every_change() {
        let outbox = Outbox::default();
        let per_change = key("a", 0, 0).size();
        let fits = OUTBOX_BYTES / per_change;
        for id in 0..(fits as u64 * 10) {
            outbox.push(key(if id % 2 == 0 { "a" } else { "b" }, id, id));
        }
        outbox.push(Change::Tag { tag: "t".into(), at: 5 });
        assert!(outbox.lock().bytes <= OUTBOX_BYTES, "bounded");
        let (_, coarsened) = outbox.counts();
        assert!(coarsened > 0);
        let mut sent = Vec::new();
        while !outbox.is_empty() {
            sent.extend(outbox.take());
        }
        // Every key change is covered: sent as it was, or by a clear of its cache at least as late.
        for id in 0..(fits as u64 * 10) {
            let cache = if id % 2 == 0 { "a" } else { "b" };
            let covered = sent.iter().any(|c| match c {
                Change::All { cache: c, at, .. } => c == cache && *at >= id,
                other => *other == key(cache, id, id),
            });
            assert!(covered, "key {id} of {cache} lost");
        }
        assert!(sent.iter().any(|c| matches!(c, Change::Tag { .. } | Change::AllTags { .. })));
    }

    #[test]
    fn a_batch_put_back_goes_first_and_stays_bounded() {
        let outbox = Outbox::default();
        outbox.push(key("a", 1, 1));
        let batch = outbox.take();
        outbox.push(key("a", 2, 2));
        outbox.put_back(batch);
        assert_eq!(outbox.take(), vec![key("a", 1, 1), key("a", 2, 2)]);
    }
}
