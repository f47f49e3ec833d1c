//! One load per key across the instances (opt-in per cache, see
//! [`CacheBuilder::fleet_single_flight`](crate::cache::CacheBuilder::fleet_single_flight)).
//!
//! A process's single-flight leader that finds nothing usable in the L2 takes a lock on the
//! key in Redis (`SET <entry key>:lock <token> NX PX <lock ttl>`) before it loads:
//!
//! - **Taken**: it loads. The value's write to the L2, the lock's release (only while it
//!   still holds this instance's token) and the backplane message that announces the value go
//!   out in one batch, in that order, so that whoever the message wakes finds the value.
//!   A load that ends without a value (an error, a panic, a value too large for the L2)
//!   releases the lock and says so on the backplane.
//! - **Held by another instance**: it waits for a backplane message about the key, at most
//!   until the lock expires (`PTTL`), then reads the L2 again, and takes the lock in turn if there is still
//!   nothing: when the holder died, its lock expires and a waiter loads.
//! - **Redis cannot be asked** (the breaker is open, the command failed or timed out, the
//!   backplane is not subscribed): it loads, as without the lock. Nobody waits on a lock that
//!   cannot be taken or a message that cannot come.
//!
//! The other callers of the process wait on its flight as always, so a process takes the
//! lock once per key. On a Redis Cluster the lock and the entry may sit on different nodes,
//! so the release can overtake the write: a caller arriving in that moment loads once more.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

use super::connection::Batch;
use super::scripts::RELEASE;

/// Callers of this process waiting for another instance's load, by cache name (escaped, as
/// messages carry it) and serialized key: one per key, the leader of its flight.
#[derive(Default)]
pub(crate) struct Waiting {
    keys: Mutex<Waits>,
}

/// Each waiting key's wake-up, by cache name and serialized key.
type Waits = HashMap<(String, Vec<u8>), Arc<Notify>>;

impl Waiting {
    /// Registers a wait for `key` of `cache`: a message about it from now on wakes it.
    pub(crate) fn enter(&self, cache: &str, key: &[u8]) -> Waiter<'_> {
        let notify = Arc::new(Notify::new());
        let at = (super::keys::escape(cache), key.to_vec());
        self.lock().insert(at.clone(), Arc::clone(&notify));
        Waiter { waiting: self, at, notify }
    }

    /// A message about `key` of `cache` arrived: its waiter, if any, reads the L2 again.
    pub(crate) fn wake(&self, cache: &str, key: &[u8]) {
        let waits = self.lock();
        // Most messages find nobody waiting: no owned copy of the key for them.
        if waits.is_empty() {
            return;
        }
        if let Some(notify) = waits.get(&(cache.to_owned(), key.to_vec())) {
            notify.notify_one();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waits> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A registered wait, removed when dropped.
pub(crate) struct Waiter<'w> {
    waiting: &'w Waiting,
    at: (String, Vec<u8>),
    notify: Arc<Notify>,
}

impl Waiter<'_> {
    /// Waits for a message about the key (one that came since [`Waiting::enter`] counts), or
    /// for `limit`.
    pub(crate) async fn woken(&self, limit: Duration) {
        let _ = tokio::time::timeout(limit, self.notify.notified()).await;
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        let mut keys = self.waiting.lock();
        if keys.get(&self.at).is_some_and(|notify| Arc::ptr_eq(notify, &self.notify)) {
            keys.remove(&self.at);
        }
    }
}

/// The release of a lock: its Redis key and this holder's token.
#[derive(Debug)]
pub(crate) struct Release {
    pub(crate) lock: String,
    pub(crate) token: String,
}

impl Release {
    /// Adds the release to a batch.
    pub(crate) fn add_to(&self, batch: &mut Batch) {
        batch.add_ignored(redis::cmd("EVAL").arg(RELEASE).arg(1).arg(&self.lock).arg(&self.token).to_owned());
    }
}
