//! The lock itself (see [`fleet`](crate::l2::fleet)): taken with `SET NX PX`, handed back
//! with the value, released with a token check.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::RedisL2;
use crate::l2::connection::Batch;
use crate::l2::fleet::{Release, Waiting};
use crate::l2::gate::Gate;
use crate::l2::message::Message;

/// What asking for a key's lock gave.
pub(crate) enum Lock {
    /// This instance loads; the lock goes when the hold does.
    Taken(Held),
    /// Another instance loads, holding the lock for at most this long.
    Busy(Duration),
    /// Redis could not be asked: load without the lock.
    Unavailable,
}

/// A lock this instance holds on a key while it loads it. Handed back with the loaded value,
/// it is released after the value's write (`after_write`); dropped instead, it is released at
/// once and the release announced, so that the waiters do not wait for its expiry.
pub(crate) struct Held {
    l2: Arc<RedisL2>,
    release: Option<Release>,
    cache: String,
    key: Vec<u8>,
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held").field("release", &self.release).finish_non_exhaustive()
    }
}

impl Held {
    /// The release, to send after the value's write; the hold does nothing more.
    pub(crate) fn after_write(mut self) -> Option<Release> {
        self.release.take()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(release) = self.release.take() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let message = Message::Released { cache: std::mem::take(&mut self.cache), key: std::mem::take(&mut self.key) };
        let l2 = Arc::clone(&self.l2);
        // Best effort, like the write it stands for: the lock expires anyway.
        runtime.spawn(async move {
            let mut batch = Batch::default();
            release.add_to(&mut batch);
            l2.publish_in(&mut batch, &message);
            let _ = l2.gate().batch(&batch).await;
        });
    }
}

/// Tokens told apart by the instance and a count.
static TOKENS: AtomicU64 = AtomicU64::new(0);

impl RedisL2 {
    /// This instance's id, as its backplane messages carry it.
    pub(crate) fn instance(&self) -> u64 {
        self.destination.instance
    }

    pub(crate) fn gate(&self) -> &Arc<Gate> {
        &self.gate
    }

    /// Adds the publication of `message` on the backplane to `batch`.
    pub(crate) fn publish_in(&self, batch: &mut Batch, message: &Message) {
        let mut publish = redis::cmd("PUBLISH");
        batch.add_ignored(publish.arg(&self.destination.channel).arg(message.encode(self.instance())).to_owned());
    }

    /// The callers of this process waiting for other instances' loads.
    pub(crate) fn waiting(&self) -> &Waiting {
        &self.backplane.waiting
    }

    /// Asks for the lock on the entry `entry_key` of `cache` (serialized key `key`), expiring
    /// after `ttl`; by the L2 timeout.
    pub(crate) async fn lock(self: &Arc<Self>, entry_key: &str, cache: &str, key: &[u8], ttl: Duration) -> Lock {
        if !self.is_subscribed() {
            return Lock::Unavailable;
        }
        let lock = super::keys::lock_key(entry_key);
        let token = format!("{:016x}-{}", self.instance(), TOKENS.fetch_add(1, Ordering::Relaxed));
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut set = redis::cmd("SET");
        set.arg(&lock).arg(&token).arg("NX").arg("PX").arg(ttl_ms);
        match self.gate().query::<redis::Value>(&set, self.deadline()).await {
            Ok(redis::Value::Okay | redis::Value::SimpleString(_)) => Lock::Taken(Held {
                l2: Arc::clone(self),
                release: Some(Release { lock, token }),
                cache: cache.to_owned(),
                key: key.to_vec(),
            }),
            Ok(redis::Value::Nil) => Lock::Busy(self.expiry(&lock, ttl).await),
            _ => Lock::Unavailable,
        }
    }

    /// How long the lock held by another instance has left (at most `ttl`).
    async fn expiry(&self, lock: &str, ttl: Duration) -> Duration {
        let mut pttl = redis::cmd("PTTL");
        pttl.arg(lock);
        match self.gate().query::<i64>(&pttl, self.deadline()).await {
            Ok(left) if left >= 0 => Duration::from_millis(left.unsigned_abs()).min(ttl),
            _ => ttl,
        }
    }
}
