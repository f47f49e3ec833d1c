//! A `redis-server` process of the test's own, on a free loopback port, stopped on drop.
//!
//! `.ci/run` installs the Debian package when `redis-server` is missing; the tests never use
//! a Redis someone else started.

#![allow(dead_code, reason = "each test binary uses a part of these helpers")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    cluster: bool,
    /// Serves TLS only, with certificates in `dir` made by a test CA.
    tls: bool,
    /// For cluster nodes: how long a silent peer may stay silent before it is failed.
    node_timeout: Duration,
}

fn binary(name: &str) -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':').chain(["/usr/bin", "/usr/local/bin", "/usr/sbin"]) {
        let candidate = PathBuf::from(dir).join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("`{name}` not found: install the redis-server package (bash .ci/run does)");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

impl RedisServer {
    /// Starts a server and waits until it answers PING.
    pub fn start() -> Self {
        Self::launch(false, false)
    }

    /// Starts a server on `port` (one a client was given before the server existed).
    pub fn start_on(port: u16) -> Self {
        let mut server = Self::launch_stopped(false, false);
        let _ = std::fs::remove_dir_all(&server.dir);
        server.port = port;
        server.dir = std::env::temp_dir().join(format!("memo-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&server.dir).expect("temp dir");
        server.spawn();
        server
    }

    /// A loopback port that nothing listens on now.
    pub fn free_port() -> u16 {
        free_port()
    }

    /// Starts a server that speaks TLS only, with a certificate for 127.0.0.1 issued by a
    /// fresh test CA ([`ca_certificate`](Self::ca_certificate)).
    pub fn start_tls() -> Self {
        Self::launch(false, true)
    }

    /// Starts a node with cluster mode enabled (not yet part of a cluster).
    pub fn start_cluster_node() -> Self {
        Self::launch(true, false)
    }

    /// Starts a cluster node that declares a silent peer failed after `node_timeout`.
    pub fn start_cluster_node_with_timeout(node_timeout: Duration) -> Self {
        let mut server = Self::launch_stopped(true, false);
        server.node_timeout = node_timeout;
        server.spawn();
        server
    }

    fn launch(cluster: bool, tls: bool) -> Self {
        let mut server = Self::launch_stopped(cluster, tls);
        server.spawn();
        server
    }

    fn launch_stopped(cluster: bool, tls: bool) -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("memo-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        if tls {
            make_certificates(&dir);
        }
        Self { child: None, port, dir, cluster, tls, node_timeout: Duration::from_secs(5) }
    }

    /// The test CA's certificate (PEM).
    pub fn ca_certificate(&self) -> Vec<u8> {
        std::fs::read(self.dir.join("ca.crt")).expect("ca.crt")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    fn spawn(&mut self) {
        let port = self.port.to_string();
        let ports: Vec<&str> = if self.tls {
            vec!["--port", "0", "--tls-port", &port, "--tls-cert-file", "server.crt", "--tls-key-file", "server.key"]
                .into_iter()
                .chain(["--tls-ca-cert-file", "ca.crt", "--tls-auth-clients", "no"])
                .collect()
        } else {
            vec!["--port", &port]
        };
        let node_timeout = self.node_timeout.as_millis().to_string();
        let child = Command::new(binary("redis-server"))
            .current_dir(&self.dir)
            .args(ports)
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--enable-debug-command", "yes"])
            .args(if self.cluster {
                vec![
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    &node_timeout,
                ]
            } else {
                Vec::new()
            })
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers_ping() {
            assert!(Instant::now() < deadline, "redis-server on port {} did not start", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn answers_ping(&self) -> bool {
        if self.tls {
            return self.cli(&["PING"]) == "PONG";
        }
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else { return false };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        let mut reply = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok() && stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Waits until `key` exists (a write behind a call reached Redis), at most 5 s.
    #[allow(dead_code, reason = "not every test binary waits for writes")]
    pub async fn written(&self, key: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while self.cli(&["EXISTS", key]) != "1" {
            assert!(std::time::Instant::now() < deadline, "{key} never written");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Runs `redis-cli` against this server and returns its output.
    pub fn cli(&self, args: &[&str]) -> String {
        let tls: Vec<String> = if self.tls {
            vec!["--tls".into(), "--cacert".into(), self.dir.join("ca.crt").display().to_string()]
        } else {
            Vec::new()
        };
        let output = Command::new(binary("redis-cli"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(tls)
            .args(args)
            .output()
            .expect("run redis-cli");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Kills the server (as a crash would).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).expect("the server runs")
    }

    /// Freezes the server (SIGSTOP): connections stay open and nothing is answered, as with a
    /// hung or overloaded Redis.
    pub fn pause(&self) {
        signal(self.pid(), "-STOP");
    }

    /// Thaws a [`pause`](Self::pause)d server (SIGCONT).
    pub fn resume(&self) {
        signal(self.pid(), "-CONT");
    }
}

fn signal(pid: u32, which: &str) {
    let status = Command::new("kill").arg(which).arg(pid.to_string()).status().expect("run kill");
    assert!(status.success(), "kill {which} {pid} failed");
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A test CA and a certificate for 127.0.0.1 it issued, in `dir` (openssl).
fn make_certificates(dir: &std::path::Path) {
    let openssl = |args: &[&str]| {
        let status = Command::new(binary("openssl"))
            .current_dir(dir)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        assert!(status.is_ok_and(|s| s.success()), "openssl {args:?} failed");
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &["-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=memo test CA"],
        ]
        .concat(),
    );
    openssl(&[&["req"][..], &ec, &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]].concat());
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .expect("server.ext");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
}

/// A Redis Cluster of three masters on free loopback ports, made with `redis-cli --cluster
/// create`, stopped on drop.
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    pub fn start() -> Self {
        Self::create((0..3).map(|_| RedisServer::start_cluster_node()).collect(), 0)
    }

    /// Three masters with a replica each; a master that stays silent for `node_timeout` is
    /// failed over to its replica.
    pub fn start_with_replicas(node_timeout: Duration) -> Self {
        Self::create((0..6).map(|_| RedisServer::start_cluster_node_with_timeout(node_timeout)).collect(), 1)
    }

    fn create(nodes: Vec<RedisServer>, replicas: u32) -> Self {
        let addresses: Vec<String> = nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
        let replicas = replicas.to_string();
        let status = Command::new(binary("redis-cli"))
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", &replicas, "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run redis-cli --cluster create");
        assert!(status.success(), "redis-cli --cluster create failed");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !nodes.iter().all(|n| n.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok")) {
            assert!(Instant::now() < deadline, "the cluster never reached state ok");
            std::thread::sleep(Duration::from_millis(50));
        }
        let cluster = Self { nodes };
        let deadline = Instant::now() + Duration::from_secs(20);
        while cluster.masters().len() + cluster.replicas_in_sync() < cluster.nodes.len() {
            assert!(Instant::now() < deadline, "the replicas never caught up");
            std::thread::sleep(Duration::from_millis(50));
        }
        cluster
    }

    /// Indexes of the nodes that are masters now.
    pub fn masters(&self) -> Vec<usize> {
        (0..self.nodes.len()).filter(|&i| self.nodes[i].child.is_some() && self.role(i) == "master").collect()
    }

    /// The role a node reports (`master`, `slave`), or "" if it does not answer.
    pub fn role(&self, node: usize) -> String {
        let info = self.nodes[node].cli(&["INFO", "replication"]);
        info.lines().find_map(|l| l.strip_prefix("role:")).unwrap_or_default().trim().to_owned()
    }

    fn replicas_in_sync(&self) -> usize {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].cli(&["INFO", "replication"]).contains("master_link_status:up"))
            .count()
    }

    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// Runs `redis-cli -c` (following redirections) against the first node; the reply, without
    /// the "-> Redirected" notes.
    pub fn cli(&self, args: &[&str]) -> String {
        let output = Command::new(binary("redis-cli"))
            .args(["-c", "-h", "127.0.0.1", "-p", &self.nodes[0].port.to_string()])
            .args(args)
            .output()
            .expect("run redis-cli");
        let text = String::from_utf8_lossy(&output.stdout);
        text.lines().filter(|line| !line.starts_with("-> Redirected")).collect::<Vec<_>>().join("\n").trim().to_owned()
    }
}
