//! The backplane: Redis pub/sub messages that keep every instance's L1 coherent.
//!
//! An instance that invalidates a key, a whole cache or a tag publishes a small message (no
//! values) on `{namespace}:#backplane`; every other instance drops its L1 copies. An instance
//! ignores its own messages. Messages that cannot be published (Redis down) wait in a bounded
//! queue and are sent when it is back; the subscriber reconnects with backoff, and after a gap
//! drops every L1 copy of a distributed entry, since it may have missed messages.
//!
//! Message format (text): `1 <instance> k <cache> <key hex> <at ms>`, `1 <instance> a <cache>`,
//! `1 <instance> t <tag hex>`; names are escaped like keys. `at` says which L2 copies are stale
//! (made at or before it, by the sender's clock): an invalidation's time, or just before a put's
//! new value.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::keys::escape;

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

/// A message. Cache names are plain when built and escaped once decoded (compare them with
/// `escape(name)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Message {
    Key { cache: String, key: Vec<u8>, at: u64 },
    All { cache: String },
    Tag { tag: String },
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

impl Message {
    pub(crate) fn encode(&self, instance: u64) -> String {
        match self {
            Self::Key { cache, key, at } => format!("1 {instance:016x} k {} {} {at}", escape(cache), hex(key)),
            Self::All { cache } => format!("1 {instance:016x} a {}", escape(cache)),
            Self::Tag { tag } => format!("1 {instance:016x} t {}", hex(tag.as_bytes())),
        }
    }

    /// `(sender, message)`; `None` for anything malformed (ignored).
    pub(crate) fn decode(text: &str) -> Option<(u64, Self)> {
        let mut parts = text.split(' ');
        if parts.next()? != "1" {
            return None;
        }
        let sender = u64::from_str_radix(parts.next()?, 16).ok()?;
        let message = match parts.next()? {
            "k" => Self::Key {
                cache: parts.next()?.to_owned(),
                key: unhex(parts.next()?)?,
                at: parts.next()?.parse().ok()?,
            },
            "a" => Self::All { cache: parts.next()?.to_owned() },
            "t" => Self::Tag { tag: String::from_utf8(unhex(parts.next()?)?).ok()? },
            _ => return None,
        };
        parts.next().is_none().then_some((sender, message))
    }
}

/// Messages waiting for Redis, bounded; overflowing drops the oldest and remembers it.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    queue: Mutex<VecDeque<Message>>,
    overflowed: AtomicBool,
}

const OUTBOX_LIMIT: usize = 10_000;

impl Outbox {
    pub(crate) fn push(&self, message: Message) {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if queue.len() >= OUTBOX_LIMIT {
            queue.pop_front();
            self.overflowed.store(true, Ordering::Release);
        }
        queue.push_back(message);
    }

    pub(crate) fn take(&self) -> Vec<Message> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner).drain(..).collect()
    }

    pub(crate) fn put_back(&self, messages: Vec<Message>) {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        for message in messages.into_iter().rev() {
            queue.push_front(message);
        }
        while queue.len() > OUTBOX_LIMIT {
            queue.pop_front();
            self.overflowed.store(true, Ordering::Release);
        }
    }
}

/// Backoff between reconnections of the subscriber.
pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((50u64 << attempt.min(7)).min(5_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_garbage_is_ignored() {
        for message in [
            Message::Key { cache: "catalog%3A%3Aproduct".into(), key: vec![0, 255, 7], at: 12 },
            Message::All { cache: "x".into() },
            Message::Tag { tag: "product:42 with spaces".into() },
        ] {
            let decoded = Message::decode(&message.encode(9));
            let expected = match message {
                Message::Key { cache, key, at } => Message::Key { cache: escape(&cache), key, at },
                Message::All { cache } => Message::All { cache: escape(&cache) },
                tag => tag,
            };
            assert_eq!(decoded, Some((9, expected)));
        }
        for garbage in ["", "2 00 a x", "1 zz a x", "1 00 k x 0", "1 00 k x 00", "1 00 a x extra", "1 00 q"] {
            assert_eq!(Message::decode(garbage), None, "{garbage:?}");
        }
    }

    #[test]
    fn the_outbox_is_bounded() {
        let outbox = Outbox::default();
        for i in 0..OUTBOX_LIMIT + 5 {
            outbox.push(Message::All { cache: i.to_string() });
        }
        assert!(outbox.overflowed.load(Ordering::Acquire));
        assert_eq!(outbox.take().len(), OUTBOX_LIMIT);
    }
}
