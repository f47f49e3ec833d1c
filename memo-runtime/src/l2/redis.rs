//! The Redis L2 client: what the caches read, write and invalidate, all of it through one
//! [gate](super::gate). Faults never reach the caller: they are counted, logged once per
//! breaker transition or once per period, and answered as misses.
//!
//! | work | how it is bounded |
//! |---|---|
//! | reads on the call path | the L2 timeout for the whole read; at most [`MAX_IN_FLIGHT`] wait on Redis at once, the others for a slot, within the same deadline |
//! | values written behind a load | [`WRITE_TASKS`] tasks; at most [`MAX_QUEUED_WRITES`] / [`MAX_QUEUED_BYTES`] wait, the rest are dropped and counted |
//! | invalidations | one sending task; at most [`OUTBOX_BYTES`] wait, then coarsened, never dropped |
//! | values in Redis larger than the limit | read no further than the limit (`GETRANGE`) |
//!
//! [`MAX_IN_FLIGHT`]: super::gate::MAX_IN_FLIGHT
//! [`WRITE_TASKS`]: super::writes::WRITE_TASKS
//! [`MAX_QUEUED_WRITES`]: super::writes::MAX_QUEUED_WRITES
//! [`MAX_QUEUED_BYTES`]: super::writes::MAX_QUEUED_BYTES
//! [`OUTBOX_BYTES`]: super::outbox::OUTBOX_BYTES

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::time::Instant;

use super::backplane::{Backplane, Evict};
use super::breaker::{Breaker, BreakerState};
use super::connection::{Link, Target};
use super::envelope::{Limits, SigningKey};
use super::fleet::Release;
use super::gate::Gate;
use super::keys;
use super::outbox::{Change, Destination, Outbox, RETENTION};
pub use super::settings::InstallError;
use super::settings::{Settings, redact};
use super::writes::{Write, Writes};

pub(crate) mod lock;
mod reads;
mod stats;

use stats::Counters;
pub use stats::L2Stats;

/// A connection to the Redis that holds the L2, shared by every distributed cache, and the
/// backplane subscription that keeps this instance's L1 coherent with the others.
pub struct RedisL2 {
    namespace: String,
    limits: Limits,
    signer: Option<SigningKey>,
    gate: Arc<Gate>,
    writes: Arc<Writes>,
    outbox: Arc<Outbox>,
    backplane: Arc<Backplane>,
    destination: Destination,
    counters: Counters,
    /// Whether the outbox's sender and the backplane's subscriber run (see
    /// [`keep_background`](Self::keep_background)).
    running: [Arc<AtomicBool>; 2],
    starting: Mutex<()>,
    /// Whether a call waited for the backplane subscription (see [`settle_in`](Self::settle_in)).
    settled: AtomicBool,
}

/// Every L2 client alive in the process: an invalidation by tag reaches all of them.
static ALL: Mutex<Vec<Weak<RedisL2>>> = Mutex::new(Vec::new());

impl std::fmt::Debug for RedisL2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisL2")
            .field("namespace", &self.namespace)
            .field("timeout", &self.gate.timeout)
            .field("breaker", &self.gate.breaker.state())
            .finish_non_exhaustive()
    }
}

impl RedisL2 {
    /// Connects lazily: returns at once, and the first operation (or a later one, if Redis is
    /// down) establishes the connection.
    pub(crate) fn connect(
        url: &str,
        root_certificate: Option<&[u8]>,
        settings: Settings,
    ) -> Result<Self, InstallError> {
        let client = redis::Client::open(url).map_err(|source| InstallError::BadUrl { url: redact(url), source })?;
        #[cfg(feature = "tls")]
        let tls = match client.get_connection_info().addr() {
            redis::ConnectionAddr::TcpTls { insecure: true, .. } => {
                return Err(InstallError::Tls("`#insecure` (no certificate check) is not supported".to_owned()));
            }
            redis::ConnectionAddr::TcpTls { .. } => {
                Some(super::tls::client_config(root_certificate).map_err(InstallError::Tls)?)
            }
            _ => None,
        };
        #[cfg(not(feature = "tls"))]
        let _ = root_certificate;
        let target = Target::Single {
            client: Box::new(client),
            #[cfg(feature = "tls")]
            tls,
        };
        Ok(Self::with_target(target, settings))
    }

    /// Like [`connect`](Self::connect), to a Redis Cluster through its seed nodes.
    pub(crate) fn connect_cluster(nodes: &[String], settings: Settings) -> Result<Self, InstallError> {
        let bad_url = |url: &str, source| InstallError::BadUrl { url: redact(url), source };
        let mut seeds = Vec::with_capacity(nodes.len());
        for node in nodes {
            seeds.push(redis::Client::open(node.as_str()).map_err(|e| bad_url(node, e))?);
        }
        #[cfg(feature = "tls")]
        if nodes.iter().any(|n| n.starts_with("rediss://")) {
            super::tls::ensure_process_provider();
        }
        let first = nodes.first().map(String::as_str).unwrap_or_default();
        let cluster = redis::cluster::ClusterClient::builder(nodes.to_vec())
            .connection_timeout(super::connection::CONNECT_TIMEOUT)
            .response_timeout(settings.timeout.max(Duration::from_millis(250)))
            .retries(2)
            .min_retry_wait(10)
            .max_retry_wait(100)
            .build()
            .map_err(|e| bad_url(first, e))?;
        Ok(Self::with_target(Target::Cluster { client: Box::new(cluster), nodes: seeds }, settings))
    }

    fn with_target(target: Target, settings: Settings) -> Self {
        // Timeouts open the breaker only after a stretch without a success (see `Breaker`).
        let breaker = Breaker::new(
            &settings.namespace,
            settings.breaker_threshold,
            settings.breaker_cooldown,
            super::breaker::patience(settings.timeout),
        );
        let destination = Destination {
            channel: format!("{}:#backplane", keys::escape(&settings.namespace)),
            namespace: settings.namespace.clone(),
            instance: instance_id(),
        };
        Self {
            namespace: settings.namespace,
            limits: settings.limits,
            signer: settings.signer,
            gate: Arc::new(Gate::new(Link::new(target), breaker, settings.timeout)),
            writes: Arc::new(Writes::new(destination.channel.clone(), destination.instance)),
            outbox: Arc::default(),
            backplane: Arc::default(),
            destination,
            counters: Counters::default(),
            running: Default::default(),
            starting: Mutex::new(()),
            settled: AtomicBool::new(false),
        }
    }

    /// Registers a new client so that invalidations by tag reach it.
    pub(crate) fn register(self: &Arc<Self>) {
        crate::tags::forward_to(broadcast_tag);
        let mut all = ALL.lock().unwrap_or_else(PoisonError::into_inner);
        all.retain(|l2| l2.strong_count() > 0);
        all.push(Arc::downgrade(self));
    }

    /// Every live client.
    pub(crate) fn all() -> Vec<Arc<RedisL2>> {
        ALL.lock().unwrap_or_else(PoisonError::into_inner).iter().filter_map(Weak::upgrade).collect()
    }

    /// Starts the outbox's sender and the backplane's subscriber on the current tokio runtime
    /// if they do not run: the first use inside a runtime starts them, and if that runtime has
    /// shut down since (its tasks with it), the next use inside another starts them there.
    fn keep_background(&self) {
        if self.running.iter().all(|running| running.load(Ordering::Acquire)) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let _one = self.starting.lock().unwrap_or_else(PoisonError::into_inner);
        let [outbox_runs, backplane_runs] = &self.running;
        let to = self.destination.clone();
        if !outbox_runs.swap(true, Ordering::AcqRel) {
            let (runs, outbox, gate, to) =
                (Alive(Arc::clone(outbox_runs)), Arc::clone(&self.outbox), Arc::clone(&self.gate), to.clone());
            runtime.spawn(async move {
                let _runs = runs;
                outbox.run(gate, to).await;
            });
        }
        if !backplane_runs.swap(true, Ordering::AcqRel) {
            let runs = Alive(Arc::clone(backplane_runs));
            let (backplane, link, outbox) =
                (Arc::clone(&self.backplane), Arc::clone(&self.gate.link), Arc::clone(&self.outbox));
            runtime.spawn(async move {
                let _runs = runs;
                backplane.run(link, outbox, to.channel, to.instance).await;
            });
        }
    }

    /// Whether the backplane subscription is up (for tests and health checks).
    pub fn is_subscribed(&self) -> bool {
        self.backplane.is_subscribed()
    }

    /// Backplane messages received from other instances.
    pub fn messages_received(&self) -> u64 {
        self.backplane.received()
    }

    /// Whether nothing this instance wrote or invalidated is still on its way to Redis.
    pub fn is_idle(&self) -> bool {
        self.outbox.is_idle() && self.writes.is_idle()
    }

    /// Attaches a cache to the backplane: other instances' invalidations will evict its L1.
    /// Starts the subscriber on first use (needs a tokio runtime).
    pub(crate) fn attach(&self, cache: &'static dyn Evict) {
        self.backplane.attach(cache);
        self.keep_background();
    }

    /// The first call that goes to the L2 waits, up to the L2 timeout, for the backplane
    /// subscription: the L1 copies of distributed entries made before it are dropped when it is
    /// made (they may have missed messages), loads running then included, so a service that
    /// starts loading at once would otherwise throw its first loads away. Later calls do not
    /// wait.
    pub(crate) async fn settle_in(&self) {
        if self.backplane.is_subscribed() || self.settled.swap(true, Ordering::AcqRel) {
            return;
        }
        self.keep_background();
        self.backplane.until_subscribed(self.deadline()).await;
    }

    /// Carries out an invalidation in Redis and in the other instances, now or, if Redis
    /// cannot take it, as soon as it can.
    pub(crate) fn invalidate(&self, change: Change) {
        self.outbox.push(change);
        self.keep_background();
    }

    /// Writes an envelope behind the call that made it, and with `announce` = (cache,
    /// serialized key) tells the other instances that older copies are stale (best effort:
    /// dropped, and counted, when Redis is down or too much waits).
    pub(crate) fn write_behind(
        &self,
        key: String,
        bytes: Vec<u8>,
        ttl: Duration,
        announce: Option<(String, Vec<u8>)>,
        release: Option<Release>,
    ) {
        self.keep_background();
        if bytes.len() > self.limits.max_bytes {
            self.counters.oversized.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let Some(created_at) = created_at(&bytes) else { return };
        // An entry that never expires is kept as long as invalidation times are.
        let ttl_ms = u64::try_from(ttl.min(RETENTION).as_millis()).unwrap_or(u64::MAX);
        self.writes.submit(&self.gate, Write { key, bytes, created_at, ttl_ms, announce, release });
    }

    /// Records a tag's invalidation for every instance, in Redis and on the backplane.
    pub(crate) fn invalidate_tag(&self, tag: &str) {
        self.invalidate(Change::Tag { tag: tag.to_owned(), at: crate::clock::now_millis() });
    }

    /// A deadline for a read on the call path: the L2 timeout from now.
    pub(crate) fn deadline(&self) -> Instant {
        Instant::now() + self.gate.timeout
    }

    /// The key prefix of this L2's entries.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The key entries are signed and checked with, if any.
    pub fn signer(&self) -> Option<&SigningKey> {
        self.signer.as_ref()
    }

    /// The size and shape limits entries are checked against.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// How long one L2 operation of a caller may take.
    pub fn timeout(&self) -> Duration {
        self.gate.timeout
    }

    /// The breaker's cool-down: while open, one operation per cool-down probes Redis.
    pub fn breaker_cooldown(&self) -> Duration {
        self.gate.breaker.cooldown()
    }

    /// The breaker's state.
    pub fn breaker_state(&self) -> BreakerState {
        self.gate.breaker.state()
    }
}

/// Clears its flag when dropped: a background task ended (or was dropped with its runtime).
struct Alive(Arc<AtomicBool>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// An envelope's created-at time (bytes 5 to 12).
fn created_at(envelope: &[u8]) -> Option<u64> {
    envelope.get(4..12).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_le_bytes)
}

/// A random id for this process's backplane messages.
fn instance_id() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one((std::process::id(), std::time::SystemTime::now()))
}

/// Tells every L2 client in the process about a tag invalidation.
fn broadcast_tag(tag: &str) {
    for l2 in RedisL2::all() {
        l2.invalidate_tag(tag);
    }
}
