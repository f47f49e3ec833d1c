//! Process-wide setup: `Memo::builder().redis(url).namespace("app").install()` connects the
//! shared L2 (feature `redis`).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), memo_runtime::InstallError> {
//! use std::time::Duration;
//!
//! // A bad URL is an error at once; an unreachable Redis is not (calls run on L1 and the
//! // loader until it comes up).
//! assert!(memo_runtime::Memo::builder().redis("not a url").connect().is_err());
//! let l2 = memo_runtime::Memo::builder()
//!     .redis("redis://127.0.0.1:1")
//!     .namespace("docs")
//!     .l2_timeout(Duration::from_millis(50))
//!     .connect()?;
//! assert_eq!(l2.get("docs:anything").await, None);
//! # Ok(()) }
//! ```

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::l2::envelope::{Limits, SigningKey};
use crate::l2::redis::{InstallError, RedisL2};
use crate::l2::settings::Settings;

static INSTALLED: OnceLock<Arc<RedisL2>> = OnceLock::new();

/// The L2 installed in this process, if any.
#[must_use]
pub fn installed_l2() -> Option<&'static Arc<RedisL2>> {
    INSTALLED.get()
}

/// Entry point of the process-wide setup.
#[derive(Debug)]
#[non_exhaustive]
pub struct Memo {
    _private: (),
}

impl Memo {
    /// A builder with the defaults: namespace `memo`, 50 ms L2 timeout, 1 MiB entry limit, a
    /// breaker that opens after 5 failures in a row and probes every 500 ms.
    pub fn builder() -> MemoBuilder {
        MemoBuilder {
            redis_url: None,
            cluster_nodes: Vec::new(),
            settings: Settings {
                namespace: "memo".to_owned(),
                timeout: Duration::from_millis(50),
                limits: Limits::default(),
                signer: None,
                breaker_threshold: 5,
                breaker_cooldown: Duration::from_millis(500),
            },
            root_certificate: None,
        }
    }
}

/// Configures the L2; see [`Memo::builder`].
#[must_use]
#[derive(Debug, Clone)]
pub struct MemoBuilder {
    redis_url: Option<String>,
    cluster_nodes: Vec<String>,
    settings: Settings,
    root_certificate: Option<Vec<u8>>,
}

impl MemoBuilder {
    /// The Redis URL: `redis://`, `rediss://`, with `user:password@` for AUTH/ACL.
    pub fn redis(mut self, url: impl Into<String>) -> Self {
        self.redis_url = Some(url.into());
        self
    }

    /// A Redis Cluster, through some of its nodes (`redis://host:port`, credentials in the
    /// URL); the client finds the rest. Replaces [`redis`](Self::redis).
    ///
    /// ```
    /// let builder = memo_runtime::Memo::builder().redis_cluster(["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"]);
    /// # let _ = builder;
    /// ```
    pub fn redis_cluster<I>(mut self, nodes: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.cluster_nodes = nodes.into_iter().map(Into::into).collect();
        self
    }

    /// The prefix of every key, so that applications sharing a Redis do not meet.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.settings.namespace = namespace.into();
        self
    }

    /// How long the L2 may hold up a call (default 50 ms): a read of an entry, with the reads
    /// of its tags' and cache's invalidation times, is given up after it, connecting included.
    /// Writes and invalidations happen behind the call and are not held to it.
    pub fn l2_timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout;
        self
    }

    /// How many failures to reach Redis in a row open the breaker (default 5). While it is
    /// open, calls skip the L2 and lose nothing but its hits.
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = memo_runtime::Memo::builder().breaker_threshold(10).breaker_cooldown(Duration::from_secs(1));
    /// # let _ = builder;
    /// ```
    pub fn breaker_threshold(mut self, failures: u32) -> Self {
        self.settings.breaker_threshold = failures;
        self
    }

    /// How often an open breaker lets one operation through to see whether Redis is back
    /// (default 500 ms); the first that succeeds closes it.
    pub fn breaker_cooldown(mut self, cooldown: Duration) -> Self {
        self.settings.breaker_cooldown = cooldown;
        self
    }

    /// The largest entry written to or read from the L2 (default 1 MiB); larger values stay in
    /// L1 only.
    pub fn max_entry_bytes(mut self, bytes: usize) -> Self {
        self.settings.limits.max_bytes = bytes;
        self
    }

    /// Signs every entry with this secret (HMAC-SHA256) and accepts only entries signed with
    /// it, so that a process without the secret cannot plant values. Every instance sharing
    /// the L2 needs the same secret.
    ///
    /// ```
    /// let builder = memo_runtime::Memo::builder().signing_key(*b"0123456789abcdef0123456789abcdef");
    /// # let _ = builder;
    /// ```
    pub fn signing_key(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.settings.signer = Some(SigningKey::new(secret));
        self
    }

    /// Trusts this CA certificate (PEM) for `rediss://` connections, for a Redis whose
    /// certificate a private CA issued (feature `tls`; public CAs are trusted already).
    ///
    /// ```
    /// # let pem = Vec::new();
    /// let builder = memo_runtime::Memo::builder().redis("rediss://cache.internal:6380").tls_root_certificate(pem);
    /// # let _ = builder;
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls_root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificate = Some(pem.into());
        self
    }

    /// Builds an L2 client without installing it: for several instances in one process
    /// (tests) or explicit wiring.
    ///
    /// # Errors
    ///
    /// [`InstallError::BadUrl`] for an invalid or missing Redis URL, [`InstallError::Tls`] for
    /// a root certificate that is not a PEM certificate.
    pub fn connect(self) -> Result<Arc<RedisL2>, InstallError> {
        let l2 = if self.cluster_nodes.is_empty() {
            let url = self.redis_url.unwrap_or_default();
            RedisL2::connect(&url, self.root_certificate.as_deref(), self.settings)?
        } else {
            RedisL2::connect_cluster(&self.cluster_nodes, self.settings)?
        };
        let l2 = Arc::new(l2);
        l2.register();
        Ok(l2)
    }

    /// Connects and installs the L2 for every distributed cache in the process.
    ///
    /// # Errors
    ///
    /// [`InstallError::BadUrl`] for an invalid URL, [`InstallError::Tls`] for unusable TLS
    /// settings, [`InstallError::AlreadyInstalled`] on a second install.
    pub fn install(self) -> Result<(), InstallError> {
        let l2 = self.connect()?;
        INSTALLED.set(l2).map_err(|_| InstallError::AlreadyInstalled)
    }
}
