//! Connections to the Redis that holds the L2.
//!
//! A [`Link`] holds one multiplexed connection (or a cluster connection) shared by every
//! operation. It is made in the background, on first need, and replaced when it breaks or when
//! the breaker's probe fails: a new cluster connection reads the cluster's current layout, so
//! a failover is followed. An operation waits for a connection at most until its own deadline;
//! a connection attempt goes on in the background up to [`CONNECT_TIMEOUT`], one at a time.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisError, RedisResult};
use tokio::sync::Notify;

/// How long one attempt to connect may take. It runs apart from the operations that wait for
/// it, which give up at their own deadline.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the L2 connects to.
pub(crate) enum Target {
    /// One Redis; `tls` is set for `rediss://`.
    Single {
        client: Box<redis::Client>,
        #[cfg(feature = "tls")]
        tls: Option<Arc<rustls::ClientConfig>>,
    },
    /// A Redis Cluster; `nodes` are its seed nodes, for the backplane subscription.
    Cluster { client: Box<redis::cluster::ClusterClient>, nodes: Vec<redis::Client> },
}

/// A connection to a single Redis (multiplexed) or to a Redis Cluster (following MOVED/ASK).
#[derive(Clone)]
pub(crate) enum Connection {
    Single(MultiplexedConnection),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl Connection {
    pub(crate) async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> RedisResult<T> {
        match self.clone() {
            Self::Single(mut c) => cmd.query_async(&mut c).await,
            Self::Cluster(mut c) => cmd.query_async(&mut c).await,
        }
    }

    /// Sends a batch: as one pipeline to a single Redis; to a cluster, every command at once,
    /// each to its key's node (a cluster pipeline may not span slots). The replies of the
    /// commands whose reply is kept, in order; the first error fails the batch.
    pub(crate) async fn batch(&self, batch: &Batch) -> RedisResult<Vec<redis::Value>> {
        match self.clone() {
            Self::Single(mut c) => {
                let mut pipe = redis::pipe();
                for (cmd, keep) in &batch.commands {
                    pipe.add_command(cmd.clone());
                    if !keep {
                        pipe.ignore();
                    }
                }
                pipe.query_async(&mut c).await
            }
            Self::Cluster(c) => {
                let replies = futures_util::future::join_all(batch.commands.iter().map(|(cmd, keep)| {
                    let mut c = c.clone();
                    async move { cmd.query_async::<redis::Value>(&mut c).await.map(|reply| keep.then_some(reply)) }
                }))
                .await;
                replies.into_iter().filter_map(Result::transpose).collect()
            }
        }
    }
}

/// Commands sent together, in one round trip where the target allows.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    commands: Vec<(redis::Cmd, bool)>,
}

impl Batch {
    /// Adds a command whose reply is kept.
    pub(crate) fn add(&mut self, cmd: redis::Cmd) {
        self.commands.push((cmd, true));
    }

    /// Adds a command whose reply is dropped.
    pub(crate) fn add_ignored(&mut self, cmd: redis::Cmd) {
        self.commands.push((cmd, false));
    }
}

impl Target {
    async fn connect(&self) -> RedisResult<Connection> {
        match self {
            Self::Single {
                client,
                #[cfg(feature = "tls")]
                tls,
            } => {
                #[cfg(feature = "tls")]
                if let Some(config) = tls {
                    let (host, port) = tls_address(client)?;
                    let stream = super::tls::connect(host, port, config).await?;
                    let settings = client.get_connection_info().redis_settings();
                    let (connection, driver) =
                        MultiplexedConnection::new_with_config(settings, stream, connection_config()).await?;
                    tokio::spawn(driver);
                    return Ok(Connection::Single(connection));
                }
                let connection = client.get_multiplexed_async_connection_with_config(&connection_config()).await?;
                Ok(Connection::Single(connection))
            }
            Self::Cluster { client, .. } => Ok(Connection::Cluster(client.get_async_connection().await?)),
        }
    }

    /// A pub/sub connection for the backplane. A cluster's pub/sub reaches every node, so any
    /// node will do: `attempt` picks the next seed node, so that a dead one is not retried for
    /// ever.
    pub(crate) async fn subscriber(&self, attempt: usize) -> RedisResult<redis::aio::PubSub> {
        match self {
            Self::Single {
                client,
                #[cfg(feature = "tls")]
                tls,
            } => {
                #[cfg(feature = "tls")]
                if let Some(config) = tls {
                    let (host, port) = tls_address(client)?;
                    let stream = super::tls::connect(host, port, config).await?;
                    return redis::aio::PubSub::new(client.get_connection_info().redis_settings(), stream).await;
                }
                client.get_async_pubsub().await
            }
            Self::Cluster { nodes, .. } => match nodes.get(attempt % nodes.len().max(1)) {
                Some(node) => node.get_async_pubsub().await,
                None => Err(RedisError::from((redis::ErrorKind::InvalidClientConfig, "no cluster node given"))),
            },
        }
    }
}

fn connection_config() -> AsyncConnectionConfig {
    // Operations carry their own deadlines (see the gate); the connection adds none.
    AsyncConnectionConfig::new().set_connection_timeout(Some(CONNECT_TIMEOUT)).set_response_timeout(None)
}

#[cfg(feature = "tls")]
fn tls_address(client: &redis::Client) -> RedisResult<(&str, u16)> {
    match client.get_connection_info().addr() {
        redis::ConnectionAddr::TcpTls { host, port, .. } => Ok((host, *port)),
        _ => Err(RedisError::from((redis::ErrorKind::InvalidClientConfig, "not a rediss:// address"))),
    }
}

/// The shared connection: made on first need, replaced when it breaks.
pub(crate) struct Link {
    target: Target,
    state: Mutex<State>,
    /// Woken when an attempt to connect ends.
    attempted: Notify,
}

/// A connection, numbered so that a failure reported late, by an operation that used an
/// older connection, does not condemn a newer one.
pub(crate) type Numbered = (u64, Connection);

#[derive(Default)]
struct State {
    current: Option<Numbered>,
    /// Connections numbered up to this one are broken or suspect: the next operation makes a
    /// new one.
    condemned: u64,
    made: u64,
    connecting: bool,
    last_error: Option<String>,
}

impl State {
    fn usable(&self) -> Option<Numbered> {
        self.current.as_ref().filter(|(number, _)| *number > self.condemned).cloned()
    }
}

impl Link {
    pub(crate) fn new(target: Target) -> Self {
        Self { target, state: Mutex::default(), attempted: Notify::new() }
    }

    pub(crate) fn target(&self) -> &Target {
        &self.target
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The connection, or the error of the attempt to make one that this call waited for.
    /// Wrap it in the operation's deadline: an attempt may take up to [`CONNECT_TIMEOUT`].
    pub(crate) async fn get(self: &Arc<Self>) -> RedisResult<Numbered> {
        if let Some(connection) = self.lock().usable() {
            return Ok(connection);
        }
        let attempted = self.attempted.notified();
        let mut attempted = std::pin::pin!(attempted);
        attempted.as_mut().enable();
        let start = {
            let mut state = self.lock();
            if let Some(connection) = state.usable() {
                return Ok(connection);
            }
            !std::mem::replace(&mut state.connecting, true)
        };
        if start {
            let link = Arc::clone(self);
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => drop(runtime.spawn(async move { link.connect().await })),
                Err(_) => link.connect().await,
            }
        }
        attempted.await;
        let state = self.lock();
        match state.usable() {
            Some(connection) => Ok(connection),
            None => {
                let why = state.last_error.clone().unwrap_or_else(|| "cannot connect".to_owned());
                Err(RedisError::from((redis::ErrorKind::Io, "cannot connect to Redis", why)))
            }
        }
    }

    /// One attempt to connect. Its end, however it ends (its task may be dropped with its
    /// runtime), lets the next attempt start and wakes the operations that waited for it.
    async fn connect(&self) {
        struct Ended<'l>(&'l Link);
        impl Drop for Ended<'_> {
            fn drop(&mut self) {
                self.0.lock().connecting = false;
                self.0.attempted.notify_waiters();
            }
        }
        let _ended = Ended(self);
        let made = match tokio::time::timeout(CONNECT_TIMEOUT, self.target.connect()).await {
            Ok(made) => made.map_err(|e| e.to_string()),
            Err(_) => Err(format!("no connection within {CONNECT_TIMEOUT:?}")),
        };
        let mut state = self.lock();
        match made {
            Ok(connection) => {
                state.made += 1;
                state.current = Some((state.made, connection));
                state.last_error = None;
            }
            Err(error) => state.last_error = Some(error),
        }
    }

    /// Connection `number` is broken, or the cluster's layout may have changed: the next
    /// operation connects anew (operations under way keep the old one until they end).
    pub(crate) fn replace(&self, number: u64) {
        let mut state = self.lock();
        state.condemned = state.condemned.max(number);
    }

    /// [`replace`](Self::replace) for a connection to a single Redis, whose broken connection
    /// stays broken; a cluster connection reconnects to its nodes by itself.
    pub(crate) fn replace_single(&self, number: u64) {
        if matches!(self.target, Target::Single { .. }) {
            self.replace(number);
        }
    }
}
