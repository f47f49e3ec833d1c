//! Reads on the call path: one key, many keys in one round trip, and what decides whether an
//! entry may be used (when its cache was last cleared, when its tags were last invalidated).

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::time::Instant;

use super::super::connection::Batch;
use super::super::gate::Failure;
use super::super::keys;
use super::RedisL2;

impl RedisL2 {
    /// The bytes stored under `key`, or `None`: absent or invalidated, larger than the size
    /// limit (read no further), another Redis type, or the L2 unavailable.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let l2 = memo_runtime::Memo::builder().redis("redis://127.0.0.1:1").namespace("docs").connect().unwrap();
    /// assert_eq!(l2.get("docs:anything").await, None); // nothing listens there: a miss
    /// # }
    /// ```
    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.read(key, self.deadline()).await
    }

    pub(crate) async fn read(&self, key: &str, deadline: Instant) -> Option<Vec<u8>> {
        self.keep_background();
        let mut cmd = redis::cmd("GETRANGE");
        // At most one byte past the limit: enough to tell that a value is too large.
        cmd.arg(key).arg(0).arg(self.limits.max_bytes);
        match self.gate.query::<Vec<u8>>(&cmd, deadline).await {
            Ok(bytes) => self.found(bytes),
            Err(Failure::Refused(error)) if error.code() == Some("WRONGTYPE") => self.count(&self.counters.wrong_type),
            Err(_) => None,
        }
    }

    /// The bytes stored under each of `keys`, in order, read in one round trip (a pipeline;
    /// on a cluster, each key from its node at once), by `deadline`: what [`read`](Self::read)
    /// gives for each, all `None` when the L2 is unavailable.
    pub(crate) async fn read_many(&self, keys: &[String], deadline: Instant) -> Vec<Option<Vec<u8>>> {
        if keys.is_empty() {
            return Vec::new();
        }
        self.keep_background();
        let mut batch = Batch::default();
        for key in keys {
            let mut cmd = redis::cmd("GETRANGE");
            cmd.arg(key).arg(0).arg(self.limits.max_bytes);
            batch.add(cmd);
        }
        let replies = match self.gate.batch_by(&batch, deadline).await {
            Ok(replies) if replies.len() == keys.len() => replies,
            Err(Failure::Refused(error)) if error.code() == Some("WRONGTYPE") => {
                self.count(&self.counters.wrong_type);
                Vec::new()
            }
            _ => Vec::new(),
        };
        if replies.is_empty() {
            return keys.iter().map(|_| None).collect();
        }
        replies
            .into_iter()
            .map(|reply| self.found(redis::from_redis_value::<Vec<u8>>(reply).unwrap_or_default()))
            .collect()
    }

    /// What a read of `bytes` gives: counted as a hit, a miss or too large.
    fn found(&self, bytes: Vec<u8>) -> Option<Vec<u8>> {
        if bytes.is_empty() || super::super::envelope::is_tombstone(&bytes) {
            self.count(&self.counters.misses)
        } else if bytes.len() > self.limits.max_bytes {
            self.count(&self.counters.oversized)
        } else {
            self.counters.hits.fetch_add(1, Ordering::Relaxed);
            Some(bytes)
        }
    }

    fn count(&self, counter: &AtomicU64) -> Option<Vec<u8>> {
        counter.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// When a cache was last cleared (ms; 0 if never), by `deadline`; `None` when the L2 is
    /// unavailable.
    pub(crate) async fn cleared_at(&self, cache: &str, version: u32, deadline: Instant) -> Option<u64> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(keys::cleared_key(&self.namespace, cache, version));
        let found: Option<String> = self.gate.query(&cmd, deadline).await.ok()?;
        Some(found.and_then(|t| t.parse().ok()).unwrap_or(0))
    }

    /// The latest invalidation time (ms) of any of `tags`, or of every tagged entry, recorded
    /// in Redis, by `deadline`; `None` when Redis cannot say (the entry is then not used).
    pub(crate) async fn latest_tag_invalidation(&self, tags: &[&str], deadline: Instant) -> Option<u64> {
        let mut cmd = redis::cmd("MGET");
        cmd.arg(keys::tags_floor_key(&self.namespace));
        for tag in tags {
            cmd.arg(keys::tag_key(&self.namespace, tag));
        }
        let times: Vec<Option<String>> = self.gate.query(&cmd, deadline).await.ok()?;
        Some(times.into_iter().flatten().filter_map(|t| t.parse::<u64>().ok()).max().unwrap_or(0))
    }
}
