//! Values written to the L2 behind the call that loaded them: a bounded queue drained by a
//! fixed number of tasks, in batches (one round trip each), through the gate.
//!
//! A write is an optimization (another instance finds the value instead of loading it), so
//! under pressure it is the first thing dropped, and counted: when the breaker is open, when
//! [`MAX_QUEUED_WRITES`] or [`MAX_QUEUED_BYTES`] wait already, or when its batch fails. What
//! must not be lost (invalidations) goes through the [outbox](super::outbox) instead.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::breaker::BreakerState;
use super::connection::Batch;
use super::fleet::Release;
use super::gate::Gate;
use super::message::Message;
use super::scripts::SET_IF_NEWER;

/// Tasks that write at once, per L2.
pub const WRITE_TASKS: usize = 2;
/// Writes that may wait.
pub const MAX_QUEUED_WRITES: usize = 4_096;
/// Bytes of values that may wait.
pub const MAX_QUEUED_BYTES: usize = 8 << 20;
/// Writes per round trip.
const BATCH: usize = 64;

/// Serialized keys, with the time before which copies are stale.
type Announced = Vec<(Vec<u8>, u64)>;

/// One envelope to store.
#[derive(Debug)]
pub(crate) struct Write {
    pub(crate) key: String,
    pub(crate) bytes: Vec<u8>,
    pub(crate) created_at: u64,
    pub(crate) ttl_ms: u64,
    /// Tells the other instances (best effort, like the write) that copies of this entry of
    /// this cache made before it are stale: its serialized key.
    pub(crate) announce: Option<(String, Vec<u8>)>,
    /// The fleet lock the load held, released once the value is written.
    pub(crate) release: Option<Release>,
}

#[derive(Default)]
struct Queue {
    writes: VecDeque<Write>,
    bytes: usize,
    tasks: usize,
}

pub(crate) struct Writes {
    /// Where announcements go, and this instance's id.
    channel: String,
    instance: u64,
    queue: Mutex<Queue>,
    written: AtomicU64,
    dropped: AtomicU64,
    in_batches: AtomicUsize,
}

impl Writes {
    pub(crate) fn new(channel: String, instance: u64) -> Self {
        Self {
            channel,
            instance,
            queue: Mutex::default(),
            written: AtomicU64::default(),
            dropped: AtomicU64::default(),
            in_batches: AtomicUsize::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `write`, or drops it (counted) when the L2 is known to be down, the queue is
    /// full or there is no tokio runtime; starts a writing task on the current runtime if fewer
    /// than [`WRITE_TASKS`] run.
    pub(crate) fn submit(self: &Arc<Self>, gate: &Arc<Gate>, write: Write) {
        let runtime = tokio::runtime::Handle::try_current();
        if gate.breaker.state() == BreakerState::Open || runtime.is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut queue = self.lock();
        if queue.writes.len() >= MAX_QUEUED_WRITES || queue.bytes + write.bytes.len() > MAX_QUEUED_BYTES {
            drop(queue);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        queue.bytes += write.bytes.len();
        queue.writes.push_back(write);
        if queue.tasks < WRITE_TASKS
            && let Ok(runtime) = runtime
        {
            queue.tasks += 1;
            drop(queue);
            runtime.spawn(Arc::clone(self).drain(Arc::clone(gate)));
        }
    }

    /// Writes batches until the queue is empty.
    async fn drain(self: Arc<Self>, gate: Arc<Gate>) {
        /// Counts the task out however it ends: on an empty queue (under the lock that found it
        /// empty, so that a write queued meanwhile starts another task), or dropped with its
        /// runtime.
        struct Task<'w> {
            writes: &'w Writes,
            counted: bool,
        }
        impl Drop for Task<'_> {
            fn drop(&mut self) {
                if self.counted {
                    self.writes.lock().tasks -= 1;
                }
            }
        }
        /// A batch on its way, counted until it ends.
        struct Sending<'w>(&'w Writes, usize);
        impl Drop for Sending<'_> {
            fn drop(&mut self) {
                self.0.in_batches.fetch_sub(self.1, Ordering::Relaxed);
            }
        }
        let mut task = Task { writes: &self, counted: true };
        loop {
            let batch: Vec<Write> = {
                let mut queue = self.lock();
                if queue.writes.is_empty() {
                    queue.tasks -= 1;
                    task.counted = false;
                    return;
                }
                let n = queue.writes.len().min(BATCH);
                let batch: Vec<Write> = queue.writes.drain(..n).collect();
                queue.bytes -= batch.iter().map(|w| w.bytes.len()).sum::<usize>();
                // Under the lock: a write is never neither queued nor counted as being sent.
                self.in_batches.fetch_add(batch.len(), Ordering::Relaxed);
                batch
            };
            let _sending = Sending(&self, batch.len());
            let mut commands = Batch::default();
            // One message per cache for the whole batch.
            let mut announce: Vec<(&str, Announced)> = Vec::new();
            for write in &batch {
                let mut set = redis::cmd("EVAL");
                set.arg(SET_IF_NEWER).arg(1).arg(&write.key).arg(&write.bytes);
                commands.add(set.arg(write.created_at).arg(write.ttl_ms.max(1)).to_owned());
                if let Some(release) = &write.release {
                    release.add_to(&mut commands);
                }
                if let Some((cache, key)) = &write.announce {
                    let entry = (key.clone(), write.created_at.saturating_sub(1));
                    match announce.iter_mut().find(|(c, _)| c == cache) {
                        Some((_, keys)) => keys.push(entry),
                        None => announce.push((cache, vec![entry])),
                    }
                }
            }
            for (cache, keys) in announce {
                let message = Message::Keys { cache: cache.to_owned(), keys };
                let mut publish = redis::cmd("PUBLISH");
                commands.add_ignored(publish.arg(&self.channel).arg(message.encode(self.instance)).to_owned());
            }
            match gate.batch(&commands).await {
                Ok(replies) => {
                    let written = replies.iter().filter(|r| matches!(r, redis::Value::Int(1))).count();
                    self.written.fetch_add(written as u64, Ordering::Relaxed);
                }
                Err(_) => {
                    self.dropped.fetch_add(batch.len() as u64, Ordering::Relaxed);
                }
            }
        }
    }

    /// Values written, and values dropped.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (self.written.load(Ordering::Relaxed), self.dropped.load(Ordering::Relaxed))
    }

    /// Whether no write waits or is being sent.
    pub(crate) fn is_idle(&self) -> bool {
        self.lock().writes.is_empty() && self.in_batches.load(Ordering::Relaxed) == 0
    }
}
