//! The Redis L2 client: single GET/SET/DEL with a short timeout, behind a circuit breaker.
//! Faults never reach the caller: they are counted, logged (rate-limited by the breaker) and
//! answered as a miss.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::breaker::{Breaker, BreakerState};
use super::envelope::Limits;

/// Why an L2 cannot be set up. Reaching Redis is not needed at install: a Redis that is down
/// then is connected to when it comes up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    /// The URL is not a Redis URL.
    #[error("invalid Redis URL `{url}`: {source}")]
    BadUrl {
        /// The URL, with any password hidden.
        url: String,
        /// What the client said.
        source: redis::RedisError,
    },
    /// An L2 is installed already in this process.
    #[error("an L2 is already installed in this process")]
    AlreadyInstalled,
}

/// Counts of L2 traffic and faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct L2Stats {
    /// Reads that found an entry.
    pub hits: u64,
    /// Reads that found none.
    pub misses: u64,
    /// Writes sent.
    pub writes: u64,
    /// Operations that failed or timed out.
    pub errors: u64,
    /// Operations skipped because the breaker was open.
    pub skipped: u64,
    /// Entries that did not decode (corrupt, truncated, other format): treated as misses.
    pub corrupt: u64,
    /// Values not written because they were larger than the size limit.
    pub oversized: u64,
}

#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    writes: AtomicU64,
    errors: AtomicU64,
    skipped: AtomicU64,
    corrupt: AtomicU64,
    oversized: AtomicU64,
}

/// A connection to the Redis that holds the L2, shared by every distributed cache.
pub struct RedisL2 {
    connection: ConnectionManager,
    namespace: String,
    timeout: Duration,
    limits: Limits,
    breaker: Breaker,
    counters: Counters,
}

impl std::fmt::Debug for RedisL2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisL2")
            .field("namespace", &self.namespace)
            .field("timeout", &self.timeout)
            .field("breaker", &self.breaker.state())
            .finish_non_exhaustive()
    }
}

/// Hides the password of a `redis://user:password@host` URL.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

impl RedisL2 {
    /// Connects lazily: returns at once, and the first operation (or a later one, if Redis is
    /// down) establishes the connection, with backoff between attempts.
    ///
    /// # Errors
    ///
    /// [`InstallError::BadUrl`] when `url` is not a valid Redis URL.
    pub(crate) fn connect(
        url: &str,
        namespace: String,
        timeout: Duration,
        limits: Limits,
    ) -> Result<Self, InstallError> {
        let bad_url = |source| InstallError::BadUrl { url: redact(url), source };
        let client = redis::Client::open(url).map_err(bad_url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout.max(Duration::from_millis(250))))
            .set_response_timeout(Some(timeout))
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(5))
            .set_number_of_retries(2);
        let connection = ConnectionManager::new_lazy_with_config(client, config).map_err(bad_url)?;
        Ok(Self {
            connection,
            namespace,
            timeout,
            limits,
            breaker: Breaker::new(5, Duration::from_secs(1), Duration::from_secs(30)),
            counters: Counters::default(),
        })
    }

    /// The key prefix of this L2's entries.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The size and shape limits entries are checked against.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The breaker's state.
    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    /// Traffic and fault counts.
    pub fn stats(&self) -> L2Stats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        L2Stats {
            hits: get(&c.hits),
            misses: get(&c.misses),
            writes: get(&c.writes),
            errors: get(&c.errors),
            skipped: get(&c.skipped),
            corrupt: get(&c.corrupt),
            oversized: get(&c.oversized),
        }
    }

    pub(crate) fn count_corrupt(&self) {
        self.counters.corrupt.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_oversized(&self) {
        self.counters.oversized.fetch_add(1, Ordering::Relaxed);
    }

    /// Runs one command within the timeout, through the breaker. `None`: skipped or failed.
    async fn run<T: redis::FromRedisValue>(&self, cmd: redis::Cmd) -> Option<T> {
        if !self.breaker.allow() {
            self.counters.skipped.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let mut connection = self.connection.clone();
        match tokio::time::timeout(self.timeout, cmd.query_async::<T>(&mut connection)).await {
            Ok(Ok(value)) => {
                self.breaker.success();
                Some(value)
            }
            Ok(Err(error)) => {
                self.fault(&error.to_string());
                None
            }
            Err(_) => {
                self.fault("timed out");
                None
            }
        }
    }

    fn fault(&self, what: &str) {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        if self.breaker.state() == BreakerState::Closed {
            tracing::debug!(error = what, "memo L2 operation failed");
        }
        self.breaker.failure();
    }

    /// The bytes stored under `key`, or `None` (absent, or the L2 is unavailable).
    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(key);
        let found: Option<Vec<u8>> = self.run(cmd).await?;
        let counter = if found.is_some() { &self.counters.hits } else { &self.counters.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Stores `bytes` under `key` for `ttl` (at least 1 ms). Values over the size limit are
    /// not written (counted).
    pub async fn set(&self, key: &str, bytes: &[u8], ttl: Duration) {
        if bytes.len() > self.limits.max_bytes {
            self.count_oversized();
            return;
        }
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(bytes).arg("PX").arg(millis);
        if self.run::<()>(cmd).await.is_some() {
            self.counters.writes.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Removes `key`.
    pub async fn delete(&self, key: &str) {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(key);
        let _ = self.run::<i64>(cmd).await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_hidden() {
        assert_eq!(super::redact("redis://app:s3cret@cache:6379/0"), "redis://app:***@cache:6379/0");
        assert_eq!(super::redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }
}
