//! The Redis L2 client: single GET/SET/DEL with a short timeout, behind a circuit breaker.
//! Faults never reach the caller: they are counted, logged (rate-limited by the breaker) and
//! answered as a miss.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::backplane::{self, Evict, Message, Outbox};
use super::breaker::{Breaker, BreakerState};
use super::envelope::{Limits, SigningKey};
use super::keys;

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

/// A connection to the Redis that holds the L2, shared by every distributed cache, and the
/// backplane subscription that keeps this instance's L1 coherent with the others.
pub struct RedisL2 {
    /// For the backplane subscription (a cluster's first seed node: pub/sub is cluster-wide).
    client: redis::Client,
    target: Target,
    /// Made on first use, inside the task runtime (building one spawns its driver), so that
    /// an L2 can be set up before the runtime starts.
    connection: tokio::sync::OnceCell<Connection>,
    namespace: String,
    timeout: Duration,
    limits: Limits,
    signer: Option<SigningKey>,
    breaker: Breaker,
    counters: Counters,
    /// Identifies this instance's backplane messages.
    instance: u64,
    caches: Mutex<Vec<&'static dyn Evict>>,
    outbox: Outbox,
    subscriber_started: AtomicBool,
    subscribed: AtomicBool,
    received: AtomicU64,
}

/// What the L2 connects to.
enum Target {
    Single(ConnectionManagerConfig),
    Cluster(Box<redis::cluster::ClusterClient>),
}

/// A connection to a single Redis (reconnecting, multiplexed) or to a Redis Cluster
/// (following MOVED/ASK, splitting multi-slot commands).
#[derive(Clone)]
enum Connection {
    Single(ConnectionManager),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl Connection {
    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> redis::RedisResult<T> {
        match self.clone() {
            Self::Single(mut c) => cmd.query_async(&mut c).await,
            Self::Cluster(mut c) => cmd.query_async(&mut c).await,
        }
    }

    async fn query_pipeline(&self, pipe: &redis::Pipeline) -> redis::RedisResult<()> {
        match self.clone() {
            Self::Single(mut c) => pipe.query_async(&mut c).await,
            Self::Cluster(mut c) => pipe.query_async(&mut c).await,
        }
    }
}

/// Every L2 client alive in the process: an invalidation by tag reaches all of them.
static ALL: Mutex<Vec<Weak<RedisL2>>> = Mutex::new(Vec::new());

/// How long the time of a tag's invalidation is kept in Redis.
const TAG_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

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
        root_certificate: Option<&[u8]>,
        namespace: String,
        timeout: Duration,
        limits: Limits,
    ) -> Result<Self, InstallError> {
        let bad_url = |source| InstallError::BadUrl { url: redact(url), source };
        let client = open_client(url, root_certificate).map_err(bad_url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout.max(Duration::from_millis(250))))
            .set_response_timeout(Some(timeout))
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(5))
            .set_number_of_retries(2);
        Ok(Self::with_target(client, Target::Single(config), namespace, timeout, limits))
    }

    /// Like [`connect`](Self::connect), to a Redis Cluster through its seed nodes.
    pub(crate) fn connect_cluster(
        nodes: &[String],
        namespace: String,
        timeout: Duration,
        limits: Limits,
    ) -> Result<Self, InstallError> {
        let first = nodes.first().map(String::as_str).unwrap_or_default();
        let bad_url = |url: &str, source| InstallError::BadUrl { url: redact(url), source };
        let client = redis::Client::open(first).map_err(|e| bad_url(first, e))?;
        for node in nodes {
            redis::Client::open(node.as_str()).map_err(|e| bad_url(node, e))?;
        }
        let cluster = redis::cluster::ClusterClient::builder(nodes.to_vec())
            .connection_timeout(timeout.max(Duration::from_millis(250)))
            .response_timeout(timeout)
            .retries(2)
            .build()
            .map_err(|e| bad_url(first, e))?;
        Ok(Self::with_target(client, Target::Cluster(Box::new(cluster)), namespace, timeout, limits))
    }

    fn with_target(
        client: redis::Client,
        target: Target,
        namespace: String,
        timeout: Duration,
        limits: Limits,
    ) -> Self {
        Self {
            client,
            target,
            connection: tokio::sync::OnceCell::new(),
            namespace,
            timeout,
            limits,
            signer: None,
            breaker: Breaker::new(5, Duration::from_secs(1), Duration::from_secs(30)),
            counters: Counters::default(),
            instance: instance_id(),
            caches: Mutex::new(Vec::new()),
            outbox: Outbox::default(),
            subscriber_started: AtomicBool::new(false),
            subscribed: AtomicBool::new(false),
            received: AtomicU64::new(0),
        }
    }

    /// Registers a new client so that invalidations by tag reach it.
    pub(crate) fn register(self: &Arc<Self>) {
        let mut all = ALL.lock().unwrap_or_else(PoisonError::into_inner);
        all.retain(|l2| l2.strong_count() > 0);
        all.push(Arc::downgrade(self));
    }

    /// Every live client, for reporting.
    #[cfg(feature = "metrics")]
    pub(crate) fn all() -> Vec<Arc<RedisL2>> {
        ALL.lock().unwrap_or_else(PoisonError::into_inner).iter().filter_map(Weak::upgrade).collect()
    }

    fn channel(&self) -> String {
        format!("{}:#backplane", keys::escape(&self.namespace))
    }

    /// Whether the backplane subscription is up (for tests and health checks).
    pub fn is_subscribed(&self) -> bool {
        self.subscribed.load(Ordering::Acquire)
    }

    /// Backplane messages received from other instances.
    pub fn messages_received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Attaches a cache to the backplane: other instances' invalidations will evict its L1.
    /// Starts the subscriber on first use (needs a tokio runtime).
    pub(crate) fn attach(self: &Arc<Self>, cache: &'static dyn Evict) {
        self.caches.lock().unwrap_or_else(PoisonError::into_inner).push(cache);
        if !self.subscriber_started.swap(true, Ordering::AcqRel) {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(Arc::clone(self).subscribe());
                }
                Err(_) => self.subscriber_started.store(false, Ordering::Release),
            }
        }
    }

    /// Receives backplane messages until the process ends, reconnecting with backoff.
    async fn subscribe(self: Arc<Self>) {
        let channel = self.channel();
        let mut attempt = 0;
        let mut connected_before = false;
        loop {
            let pubsub = match tokio::time::timeout(Duration::from_secs(2), self.client.get_async_pubsub()).await {
                Ok(Ok(mut pubsub)) => match pubsub.subscribe(&channel).await {
                    Ok(()) => Some(pubsub),
                    Err(_) => None,
                },
                _ => None,
            };
            let Some(pubsub) = pubsub else {
                tokio::time::sleep(backplane::backoff(attempt)).await;
                attempt += 1;
                continue;
            };
            attempt = 0;
            if connected_before {
                // Messages may have been missed while disconnected.
                tracing::info!(namespace = %self.namespace, "memo backplane reconnected; dropping L1 copies of distributed entries");
                for cache in self.caches.lock().unwrap_or_else(PoisonError::into_inner).iter() {
                    cache.evict_all();
                }
            }
            connected_before = true;
            self.subscribed.store(true, Ordering::Release);
            self.flush().await;
            let mut messages = pubsub.into_on_message();
            while let Some(message) = messages.next().await {
                if let Ok(text) = std::str::from_utf8(message.get_payload_bytes()) {
                    self.receive(text);
                }
            }
            self.subscribed.store(false, Ordering::Release);
        }
    }

    fn receive(&self, text: &str) {
        let Some((sender, message)) = Message::decode(text) else { return };
        if sender == self.instance {
            return;
        }
        self.received.fetch_add(1, Ordering::Relaxed);
        match message {
            Message::Tag { tag } => crate::tags::invalidate_tags_local([tag]),
            Message::Key { cache, key, at } => {
                for target in self.caches.lock().unwrap_or_else(PoisonError::into_inner).iter() {
                    if keys::escape(target.cache_name()) == cache {
                        target.evict_key(&key, at);
                    }
                }
            }
            Message::All { cache } => {
                for target in self.caches.lock().unwrap_or_else(PoisonError::into_inner).iter() {
                    if keys::escape(target.cache_name()) == cache {
                        target.evict_all();
                    }
                }
            }
        }
    }

    /// Publishes a message to the other instances, now or, if Redis cannot take it, when it
    /// is back.
    pub(crate) fn publish(self: &Arc<Self>, message: Message) {
        self.outbox.push(message);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let l2 = Arc::clone(self);
            runtime.spawn(async move { l2.flush().await });
        }
    }

    /// Sends the waiting messages; those that fail go back to wait.
    async fn flush(&self) {
        let messages = self.outbox.take();
        if messages.is_empty() {
            return;
        }
        let channel = self.channel();
        let mut pipe = redis::pipe();
        for message in &messages {
            pipe.cmd("PUBLISH").arg(&channel).arg(message.encode(self.instance)).ignore();
        }
        let Some(connection) = self.connection().await else {
            self.outbox.put_back(messages);
            return;
        };
        match tokio::time::timeout(self.timeout * 4, connection.query_pipeline(&pipe)).await {
            Ok(Ok(())) => self.breaker.success(),
            _ => {
                self.fault("backplane publish failed");
                self.outbox.put_back(messages);
            }
        }
    }

    /// Records a tag's invalidation in Redis (for entries other instances read later) and
    /// tells the other instances.
    pub(crate) fn invalidate_tag(self: &Arc<Self>, tag: &str) {
        self.publish(Message::Tag { tag: tag.to_owned() });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let l2 = Arc::clone(self);
            let key = keys::tag_key(&self.namespace, tag);
            runtime.spawn(async move {
                let now = crate::clock::now_millis();
                let mut cmd = redis::cmd("SET");
                cmd.arg(&key).arg(now).arg("PX").arg(TAG_RETENTION.as_millis() as u64);
                let _ = l2.run::<()>(cmd).await;
            });
        }
    }

    /// The latest invalidation time (ms) of any of `tags` recorded in Redis; `None` when
    /// Redis cannot say (then the caller treats the entry as a miss).
    pub(crate) async fn latest_tag_invalidation(&self, tags: &[&str]) -> Option<u64> {
        let mut cmd = redis::cmd("MGET");
        for tag in tags {
            cmd.arg(keys::tag_key(&self.namespace, tag));
        }
        let times: Vec<Option<u64>> = self.run(cmd).await?;
        Some(times.into_iter().flatten().max().unwrap_or(0))
    }

    /// The key prefix of this L2's entries.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Signs entries written from now on and accepts only entries signed with the same key.
    pub(crate) fn with_signer(mut self, signer: Option<SigningKey>) -> Self {
        self.signer = signer;
        self
    }

    /// The key entries are signed and checked with, if any.
    pub fn signer(&self) -> Option<&SigningKey> {
        self.signer.as_ref()
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

    /// The connection, made on first use (needs a tokio runtime). A cluster's first
    /// connection is attempted within the timeout, and again on later calls if it failed.
    async fn connection(&self) -> Option<Connection> {
        if let Some(connection) = self.connection.get() {
            return Some(connection.clone());
        }
        let made = self
            .connection
            .get_or_try_init(|| async {
                match &self.target {
                    Target::Single(config) => {
                        ConnectionManager::new_lazy_with_config(self.client.clone(), config.clone())
                            .map(Connection::Single)
                            .map_err(|_| ())
                    }
                    Target::Cluster(cluster) => {
                        match tokio::time::timeout(
                            self.timeout.max(Duration::from_millis(250)),
                            cluster.get_async_connection(),
                        )
                        .await
                        {
                            Ok(Ok(connection)) => Ok(Connection::Cluster(connection)),
                            _ => Err(()),
                        }
                    }
                }
            })
            .await;
        made.ok().cloned()
    }

    /// Runs one command within the timeout, through the breaker. `None`: skipped or failed.
    async fn run<T: redis::FromRedisValue>(&self, cmd: redis::Cmd) -> Option<T> {
        if !self.breaker.allow() {
            self.counters.skipped.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let Some(connection) = self.connection().await else {
            self.fault("cannot connect");
            return None;
        };
        // The connection enforces the timeout (its response and connection timeouts).
        match connection.query::<T>(&cmd).await {
            Ok(value) => {
                self.breaker.success();
                Some(value)
            }
            Err(error) => {
                self.fault(&error.to_string());
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

    /// When a cache was last cleared (the value at `cleared`, ms; 0 if never); `None` when the
    /// L2 is unavailable.
    pub(crate) async fn get_cleared(&self, cleared: &str) -> Option<u64> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(cleared);
        let found: Option<String> = self.run(cmd).await?;
        Some(found.and_then(|t| t.parse().ok()).unwrap_or(0))
    }

    /// Records in Redis that a cache was cleared now (see [`keys::cleared_key`]).
    pub(crate) fn mark_cleared(self: &Arc<Self>, cleared: String) {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let l2 = Arc::clone(self);
            runtime.spawn(async move {
                let mut cmd = redis::cmd("SET");
                cmd.arg(&cleared).arg(crate::clock::now_millis()).arg("PX").arg(TAG_RETENTION.as_millis() as u64);
                let _ = l2.run::<()>(cmd).await;
            });
        }
    }

    /// Stores the envelope `bytes` under `key` for `ttl` (at least 1 ms), unless Redis holds a
    /// newer envelope there (written by another instance meanwhile): the newest value wins
    /// whatever order the writes arrive in. Values over the size limit are not written
    /// (counted).
    pub async fn set(&self, key: &str, bytes: &[u8], ttl: Duration) {
        if bytes.len() > self.limits.max_bytes {
            self.count_oversized();
            return;
        }
        let Some(created_at) = bytes.get(4..12).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_le_bytes)
        else {
            return;
        };
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(SET_IF_NEWER).arg(1).arg(key).arg(bytes).arg(created_at).arg(millis);
        if self.run::<i64>(cmd).await == Some(1) {
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

/// `SET key value PX ttl` unless the stored envelope's created-at (bytes 5 to 12, little
/// endian) is later than `ARGV[2]`.
const SET_IF_NEWER: &str = r"
local current = redis.call('GET', KEYS[1])
if current and #current >= 12 and string.sub(current, 1, 2) == 'me' then
  local created = 0
  for i = 12, 5, -1 do created = created * 256 + string.byte(current, i) end
  if created > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
";

/// A client for `url`; for `rediss://` with a private CA, trusting `root_certificate` (PEM).
fn open_client(url: &str, root_certificate: Option<&[u8]>) -> redis::RedisResult<redis::Client> {
    #[cfg(feature = "tls")]
    if let Some(root) = root_certificate {
        let certificates = redis::TlsCertificates { client_tls: None, root_cert: Some(root.to_vec()) };
        return redis::Client::build_with_tls(url, certificates);
    }
    #[cfg(not(feature = "tls"))]
    let _ = root_certificate;
    redis::Client::open(url)
}

/// A random id for this process's backplane messages.
fn instance_id() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one((std::process::id(), std::time::SystemTime::now()))
}

/// Tells every L2 client in the process about a tag invalidation.
pub(crate) fn broadcast_tag(tag: &str) {
    let all: Vec<Arc<RedisL2>> =
        ALL.lock().unwrap_or_else(PoisonError::into_inner).iter().filter_map(Weak::upgrade).collect();
    for l2 in all {
        l2.invalidate_tag(tag);
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
