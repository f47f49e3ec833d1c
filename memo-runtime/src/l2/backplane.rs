//! The backplane: Redis pub/sub messages that keep every instance's L1 coherent.
//!
//! An instance that invalidates a key, a whole cache or a tag publishes a small message (no
//! values) on `{namespace}:#backplane` through its [outbox](super::outbox); every other
//! instance drops its L1 copies. An instance ignores its own messages. The subscription is
//! a connection of its own, outside the [gate](super::gate): it is kept up with its own
//! backoff, and carries no operation that a call waits for.
//!
//! The subscription is checked with a `PING` every [`PING_EVERY`]: a Redis that went silent
//! (a partition, a frozen server) is noticed even though no connection was closed. When the
//! subscription is lost, it is made again with a short backoff (up to [`MAX_BACKOFF`], trying
//! the next seed node of a cluster each time). Each time it is made, the first time included,
//! the instance drops every L1 copy of a distributed entry, since it may have missed messages
//! while it was not subscribed, and tells its outbox to send.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;

use super::connection::{CONNECT_TIMEOUT, Link};
use super::fleet::Waiting;
use super::keys::escape;
use super::message::Message;
use super::outbox::Outbox;
use crate::notice::Notice;

/// How often the subscription is checked.
pub const PING_EVERY: Duration = Duration::from_secs(1);
/// The longest pause between two attempts to subscribe again.
pub const MAX_BACKOFF: Duration = Duration::from_millis(500);

/// What an instance can be told to drop.
pub(crate) trait Evict: Send + Sync {
    /// The cache's name.
    fn cache_name(&self) -> &str;
    /// Drops the L1 copy of the entry whose serialized key is `key`; L2 copies made at or
    /// before `at` (ms) are stale, and so are the loads of the key that began by then.
    fn evict_key(&self, key: &[u8], at: u64);
    /// Another instance stored a value made after `at` for `key`: older L1 and L2 copies are
    /// stale; the loads running here are not (they read the source as it was read there), so
    /// that their callers do not load again.
    fn stored_elsewhere(&self, key: &[u8], at: u64);
    /// Drops every L1 copy; L2 copies made before now are stale.
    fn evict_all(&self);
    /// Drops every L1 copy, which may have missed messages; L2 copies are judged by the
    /// records of invalidations Redis keeps.
    fn evict_copies(&self);
}

/// How long a subscription must have lasted for the next loss to start the backoff afresh.
const STEADY: Duration = Duration::from_secs(10);

/// The caches on the backplane (with their names as messages carry them) and the state of the
/// subscription.
#[derive(Default)]
pub(crate) struct Backplane {
    caches: Mutex<Vec<(String, &'static dyn Evict)>>,
    subscribed: AtomicBool,
    /// Woken when the subscription is made.
    made: tokio::sync::Notify,
    received: AtomicU64,
    resubscriptions: Notice,
    /// Callers waiting for other instances' loads: woken by messages about their keys.
    pub(crate) waiting: Waiting,
}

impl Backplane {
    pub(crate) fn attach(&self, cache: &'static dyn Evict) {
        let name = escape(cache.cache_name());
        self.caches.lock().unwrap_or_else(PoisonError::into_inner).push((name, cache));
    }

    pub(crate) fn is_subscribed(&self) -> bool {
        self.subscribed.load(Ordering::Acquire)
    }

    /// Waits until the subscription is up, or `deadline`.
    pub(crate) async fn until_subscribed(&self, deadline: tokio::time::Instant) {
        let made = self.made.notified();
        let mut made = std::pin::pin!(made);
        made.as_mut().enable();
        if !self.is_subscribed() {
            let _ = tokio::time::timeout_at(deadline, made).await;
        }
    }

    pub(crate) fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Runs `f` on every cache, or on those named `name` (escaped, as messages carry it).
    fn each(&self, name: Option<&str>, mut f: impl FnMut(&dyn Evict)) {
        let caches = self.caches.lock().unwrap_or_else(PoisonError::into_inner).clone();
        for (escaped, cache) in caches {
            if name.is_none_or(|name| name == escaped) {
                f(cache);
            }
        }
    }

    /// Receives messages on `channel` until the process ends.
    pub(crate) async fn run(self: Arc<Self>, link: Arc<Link>, outbox: Arc<Outbox>, channel: String, instance: u64) {
        let mut attempt = 0usize;
        let mut subscribed_before = false;
        loop {
            let subscribed = tokio::time::timeout(CONNECT_TIMEOUT, async {
                let mut pubsub = link.target().subscriber(attempt).await?;
                pubsub.subscribe(&channel).await?;
                redis::RedisResult::Ok(pubsub)
            })
            .await;
            let Ok(Ok(pubsub)) = subscribed else {
                tokio::time::sleep(backoff(attempt)).await;
                attempt = attempt.wrapping_add(1);
                continue;
            };
            // Messages sent before now may have been missed: L1 copies made before are not trusted.
            self.each(None, |cache| cache.evict_copies());
            if std::mem::replace(&mut subscribed_before, true)
                && let Some(count) = self.resubscriptions.due()
            {
                tracing::info!(%channel, count, "memo backplane subscribed again; dropped L1 copies of distributed entries, which may have missed messages");
            }
            let subscribed_at = std::time::Instant::now();
            self.subscribed.store(true, Ordering::Release);
            self.made.notify_waiters();
            outbox.wake();
            let (mut sink, mut messages) = pubsub.split();
            loop {
                // A message, or silence until the next check that the subscription is alive.
                match tokio::time::timeout(PING_EVERY, messages.next()).await {
                    Ok(Some(message)) => {
                        if let Ok(text) = std::str::from_utf8(message.get_payload_bytes()) {
                            self.receive(text, instance);
                        }
                    }
                    Ok(None) => break,
                    Err(_) => {
                        let answered = tokio::time::timeout(CONNECT_TIMEOUT, sink.ping::<redis::Value>()).await;
                        if !matches!(answered, Ok(Ok(_))) {
                            break;
                        }
                    }
                }
            }
            self.subscribed.store(false, Ordering::Release);
            // A subscription that ends at once (a server that drops slow subscribers, say) is
            // made again after a pause that grows, not in a loop.
            attempt = if subscribed_at.elapsed() >= STEADY { 1 } else { attempt.saturating_add(1) };
            tokio::time::sleep(backoff(attempt)).await;
        }
    }

    fn receive(&self, text: &str, instance: u64) {
        let Some((sender, message)) = Message::decode(text) else { return };
        if sender == instance {
            return;
        }
        self.received.fetch_add(1, Ordering::Relaxed);
        match message {
            Message::Tag { tag } => crate::tags::invalidate_tags_local([tag]),
            Message::AllTags => crate::tags::invalidate_all_tagged_local(),
            Message::Key { cache, key, at } => {
                self.each(Some(&cache), |target| target.evict_key(&key, at));
                self.waiting.wake(&cache, &key);
            }
            Message::Keys { cache, keys } => {
                self.each(Some(&cache), |target| {
                    for (key, at) in &keys {
                        target.stored_elsewhere(key, *at);
                    }
                });
                for (key, _) in &keys {
                    self.waiting.wake(&cache, key);
                }
            }
            Message::Released { cache, key } => self.waiting.wake(&cache, &key),
            Message::All { cache } => self.each(Some(&cache), |target| target.evict_all()),
        }
    }
}

/// Backoff between attempts to subscribe again.
fn backoff(attempt: usize) -> Duration {
    Duration::from_millis(25u64 << attempt.min(5)).min(MAX_BACKOFF)
}
