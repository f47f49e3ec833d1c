//! A PostgreSQL server of the test's own: a fresh cluster (`initdb`) in a temp directory,
//! listening on a free loopback port, stopped and removed on drop.
//!
//! `.ci/run` installs Debian's `postgresql` package when `initdb` is missing; the tests never
//! use a server someone else started. PostgreSQL refuses to run as root, so as root the server
//! runs as the `postgres` user.

#![allow(dead_code, reason = "each test binary uses a part of these helpers")]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct PostgresServer {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
}

/// The directory holding `initdb` and `pg_ctl`: on `PATH`, or Debian's versioned one.
fn bin_dir() -> PathBuf {
    let on_path = std::env::var("PATH").unwrap_or_default();
    let debian = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path().join("bin")).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .split(':')
        .map(PathBuf::from)
        .chain(debian)
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
        .expect("`initdb` not found: install the postgresql package (bash .ci/run does)")
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// `bin/tool args`, as the `postgres` user when this process is root.
fn tool(bin: &Path, name: &str) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(bin.join(name));
        command
    } else {
        Command::new(bin.join(name))
    }
}

impl PostgresServer {
    /// Creates a cluster and starts it; waits until it accepts connections.
    pub fn start() -> Self {
        let bin = bin_dir();
        let port =
            TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port");
        let dir = std::env::temp_dir().join(format!("memo-postgres-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        if is_root() {
            let status = Command::new("chown").args(["postgres:postgres"]).arg(&dir).status().expect("chown");
            assert!(status.success(), "chown the cluster directory to postgres");
        }
        let data = dir.join("data");
        let status = tool(&bin, "initdb")
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "-D"])
            .arg(&data)
            .stdout(Stdio::null())
            .status()
            .expect("run initdb");
        assert!(status.success(), "initdb failed");
        let options = format!("-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", dir.display());
        let status = tool(&bin, "pg_ctl")
            .args(["-w", "-t", "60", "-o", &options, "-l"])
            .arg(dir.join("log"))
            .arg("-D")
            .arg(&data)
            .arg("start")
            .stdout(Stdio::null())
            .status()
            .expect("run pg_ctl start");
        assert!(status.success(), "pg_ctl start failed; see {}", dir.join("log").display());
        Self { dir, bin, port }
    }

    /// A URL for the `postgres` database as the superuser.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let _ = tool(&self.bin, "pg_ctl")
            .args(["-m", "immediate", "-D"])
            .arg(self.dir.join("data"))
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
