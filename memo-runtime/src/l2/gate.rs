//! The one gate every L2 operation passes: reads on the call path, background writes,
//! backplane publishes, the outbox's replays and the reads of tag and clear times.
//!
//! It asks the [breaker](super::breaker) first, bounds how many operations of callers wait on
//! Redis at once ([`MAX_IN_FLIGHT`]; the others wait for a slot, within their deadline), holds
//! each operation to its deadline whatever the
//! connection does (connecting included), and sorts failures: Redis out of reach feeds the
//! breaker and replaces a broken connection; Redis saying no (out of memory, wrong type) is
//! counted and logged at most once per period, and leaves the breaker alone.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::{RedisError, RedisResult};
use tokio::time::Instant;

use super::breaker::{Breaker, Pass};
use super::connection::{Batch, Connection, Link};
use crate::notice::Notice;

/// Operations of callers that may wait on Redis at once; more wait for one of them to end,
/// and are answered as L2 misses if none ends by their deadline. It bounds what a Redis that
/// stops answering is asked before the breaker opens, while a burst of cold keys on a healthy
/// one (each operation a fraction of a millisecond) queues briefly rather than miss.
pub const MAX_IN_FLIGHT: usize = 32;

/// Why an operation did not happen.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The breaker is open, or too many operations wait already: not attempted.
    Skipped,
    /// Redis could not be reached in time.
    Unreachable,
    /// Redis answered with an error.
    Refused(RedisError),
}

#[derive(Debug, Default)]
struct Counters {
    errors: AtomicU64,
    skipped: AtomicU64,
    refused: AtomicU64,
}

/// Counts of what happened at the gate.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct GateStats {
    pub(crate) errors: u64,
    pub(crate) skipped: u64,
    pub(crate) refused: u64,
}

pub(crate) struct Gate {
    pub(crate) link: Arc<Link>,
    pub(crate) breaker: Breaker,
    /// The deadline of one operation of a caller.
    pub(crate) timeout: Duration,
    in_flight: tokio::sync::Semaphore,
    counters: Counters,
    refusals: Notice,
}

impl Gate {
    pub(crate) fn new(link: Link, breaker: Breaker, timeout: Duration) -> Self {
        Self {
            link: Arc::new(link),
            breaker,
            timeout,
            in_flight: tokio::sync::Semaphore::new(MAX_IN_FLIGHT),
            counters: Counters::default(),
            refusals: Notice::new(),
        }
    }

    /// How long a background operation (a batch of writes or messages) may take.
    pub(crate) fn background_timeout(&self) -> Duration {
        (self.timeout * 4).max(Duration::from_millis(500))
    }

    /// A caller's command, done by `deadline`.
    pub(crate) async fn query<T: redis::FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
        deadline: Instant,
    ) -> Result<T, Failure> {
        let Ok(Ok(_slot)) = tokio::time::timeout_at(deadline, self.in_flight.acquire()).await else {
            self.counters.skipped.fetch_add(1, Ordering::Relaxed);
            return Err(Failure::Skipped);
        };
        self.pass(deadline, |connection| async move { connection.query(cmd).await }).await
    }

    /// A caller's batch, done by `deadline`: the replies of the commands whose reply is kept.
    pub(crate) async fn batch_by(&self, batch: &Batch, deadline: Instant) -> Result<Vec<redis::Value>, Failure> {
        let Ok(Ok(_slot)) = tokio::time::timeout_at(deadline, self.in_flight.acquire()).await else {
            self.counters.skipped.fetch_add(1, Ordering::Relaxed);
            return Err(Failure::Skipped);
        };
        self.pass(deadline, |connection| async move { connection.batch(batch).await }).await
    }

    /// A background batch, done within [`background_timeout`](Self::background_timeout): the
    /// replies of the commands whose reply is kept.
    pub(crate) async fn batch(&self, batch: &Batch) -> Result<Vec<redis::Value>, Failure> {
        let deadline = Instant::now() + self.background_timeout();
        self.pass(deadline, |connection| async move { connection.batch(batch).await }).await
    }

    async fn pass<T, F>(&self, deadline: Instant, op: impl FnOnce(Connection) -> F) -> Result<T, Failure>
    where
        F: Future<Output = RedisResult<T>>,
    {
        let pass = self.breaker.allow();
        if pass == Pass::Refused {
            self.counters.skipped.fetch_add(1, Ordering::Relaxed);
            return Err(Failure::Skipped);
        }
        let (number, connection) = match tokio::time::timeout_at(deadline, self.link.get()).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(error)) => return Err(self.unreachable(pass, &error.to_string(), Fault::Refused, 0)),
            // A connection is being made: the attempt, not this operation, tells whether Redis
            // can be reached.
            Err(_) => {
                self.counters.skipped.fetch_add(1, Ordering::Relaxed);
                return Err(Failure::Skipped);
            }
        };
        match tokio::time::timeout_at(deadline, op(connection)).await {
            Ok(Ok(value)) => {
                self.breaker.success();
                Ok(value)
            }
            Ok(Err(error)) if unreachable(&error) => {
                let fault = if error.is_timeout() {
                    Fault::TimedOut
                } else if error.is_unrecoverable_error() || error.is_connection_dropped() || demoted(&error) {
                    Fault::Broken
                } else {
                    Fault::Refused
                };
                Err(self.unreachable(pass, &error.to_string(), fault, number))
            }
            Ok(Err(error)) => {
                // Redis is up and said no: not the breaker's business.
                self.breaker.success();
                self.counters.refused.fetch_add(1, Ordering::Relaxed);
                if let Some(count) = self.refusals.due() {
                    tracing::warn!(count, %error, "memo L2: Redis refused operations (this one and those since the last report)");
                }
                Err(Failure::Refused(error))
            }
            Err(_) => Err(self.unreachable(pass, "timed out", Fault::TimedOut, number)),
        }
    }

    /// Records that Redis could not be reached with connection `number` (0: none was made).
    fn unreachable(&self, pass: Pass, error: &str, fault: Fault, number: u64) -> Failure {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(error, "memo L2 operation failed");
        self.breaker.failure(pass, fault == Fault::TimedOut, error);
        // A failed probe may have met a connection that points where Redis no longer is (a
        // cluster after a failover, a server that restarted): the next one connects anew. A
        // broken connection to a single Redis, or one to a server that became a replica, is
        // replaced at once (a cluster connection reconnects its nodes itself).
        if pass == Pass::Probe {
            self.link.replace(number);
        } else if fault == Fault::Broken {
            self.link.replace_single(number);
        }
        Failure::Unreachable
    }

    pub(crate) fn stats(&self) -> GateStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        GateStats {
            errors: get(&self.counters.errors),
            skipped: get(&self.counters.skipped),
            refused: get(&self.counters.refused),
        }
    }
}

/// How Redis could not be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// No answer in time.
    TimedOut,
    /// The connection was refused, or could not be made.
    Refused,
    /// The connection broke: it will not carry another command.
    Broken,
}

/// Whether the server is no longer a master (a failover behind a single address): a new
/// connection finds the new one.
fn demoted(error: &RedisError) -> bool {
    use redis::ServerErrorKind as S;
    matches!(error.kind(), redis::ErrorKind::Server(S::ReadOnly | S::MasterDown))
}

/// Whether an error says Redis could not be reached (rather than that it refused the command).
fn unreachable(error: &RedisError) -> bool {
    use redis::ServerErrorKind as S;
    error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || matches!(
            error.kind(),
            redis::ErrorKind::ClusterConnectionNotFound
                | redis::ErrorKind::Server(S::ClusterDown | S::TryAgain | S::MasterDown | S::BusyLoading | S::ReadOnly)
        )
}
