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
//! the next seed node of a cluster each time); once back, the instance drops every L1 copy of a
//! distributed entry, since it may have missed messages meanwhile, and tells its outbox to send.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;

use super::connection::{CONNECT_TIMEOUT, Link};
use super::keys::escape;
use super::message::Message;
use super::outbox::Outbox;

/// How often the subscription is checked.
pub const PING_EVERY: Duration = Duration::from_secs(1);
/// The longest pause between two attempts to subscribe again.
pub const MAX_BACKOFF: Duration = Duration::from_millis(500);

/// What an instance can be told to drop.
pub(crate) trait Evict: Send + Sync {
    /// The cache's name.
    fn cache_name(&self) -> &str;
    /// Drops the L1 copy of the entry whose serialized key is `key`; L2 copies made at or
    /// before `at` (ms) are stale.
    fn evict_key(&self, key: &[u8], at: u64);
    /// Drops every L1 copy.
    fn evict_all(&self);
}

/// The caches on the backplane and the state of the subscription.
#[derive(Default)]
pub(crate) struct Backplane {
    caches: Mutex<Vec<&'static dyn Evict>>,
    subscribed: AtomicBool,
    received: AtomicU64,
}

impl Backplane {
    pub(crate) fn attach(&self, cache: &'static dyn Evict) {
        self.caches.lock().unwrap_or_else(PoisonError::into_inner).push(cache);
    }

    pub(crate) fn is_subscribed(&self) -> bool {
        self.subscribed.load(Ordering::Acquire)
    }

    pub(crate) fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    fn each(&self, mut f: impl FnMut(&dyn Evict)) {
        let caches = self.caches.lock().unwrap_or_else(PoisonError::into_inner).clone();
        for cache in caches {
            f(cache);
        }
    }

    /// Receives messages on `channel` until the process ends.
    pub(crate) async fn run(self: Arc<Self>, link: Arc<Link>, outbox: Arc<Outbox>, channel: String, instance: u64) {
        let mut attempt = 0usize;
        let mut connected_before = false;
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
            attempt = 0;
            if connected_before {
                tracing::info!(%channel, "memo backplane subscribed again; dropping L1 copies of distributed entries, which may have missed messages");
                self.each(|cache| cache.evict_all());
            }
            connected_before = true;
            self.subscribed.store(true, Ordering::Release);
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
            Message::Key { cache, key, at } => self.each(|target| {
                if escape(target.cache_name()) == cache {
                    target.evict_key(&key, at);
                }
            }),
            Message::Keys { cache, keys } => self.each(|target| {
                if escape(target.cache_name()) == cache {
                    for (key, at) in &keys {
                        target.evict_key(key, *at);
                    }
                }
            }),
            Message::All { cache } => self.each(|target| {
                if escape(target.cache_name()) == cache {
                    target.evict_all();
                }
            }),
        }
    }
}

/// Backoff between attempts to subscribe again.
fn backoff(attempt: usize) -> Duration {
    Duration::from_millis(25u64 << attempt.min(5)).min(MAX_BACKOFF)
}
