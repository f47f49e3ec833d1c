//! A TCP proxy on a free loopback port that a test can cut, to partition one client from a
//! server that others still reach.
//!
//! While cut, the proxy closes every connection it carries and every new one as soon as it is
//! accepted, so the client sees its server go away (as with a network partition that resets
//! connections); [`restore`](Proxy::restore) lets new connections through again.

#![allow(dead_code, reason = "each test binary uses a part of these helpers")]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

struct Shared {
    cut: AtomicBool,
    stopped: AtomicBool,
    /// Both ends of every open connection, to close them on a cut.
    open: Mutex<Vec<TcpStream>>,
}

impl Proxy {
    /// Forwards connections on a new loopback port to `target`.
    pub fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let shared =
            Arc::new(Shared { cut: AtomicBool::new(false), stopped: AtomicBool::new(false), open: Mutex::default() });
        let theirs = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("test-proxy".into())
            .spawn(move || {
                for client in listener.incoming() {
                    if theirs.stopped.load(Ordering::Acquire) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    if theirs.cut.load(Ordering::Acquire) {
                        let _ = client.shutdown(Shutdown::Both);
                        continue;
                    }
                    let Ok(server) = TcpStream::connect_timeout(&target, Duration::from_secs(1)) else {
                        let _ = client.shutdown(Shutdown::Both);
                        continue;
                    };
                    let _ = (client.set_nodelay(true), server.set_nodelay(true));
                    {
                        let mut open = theirs.open.lock().unwrap();
                        open.extend([client.try_clone(), server.try_clone()].into_iter().flatten());
                    }
                    pipe(&client, &server);
                    pipe(&server, &client);
                }
            })
            .expect("start the proxy thread");
        Self { addr, shared }
    }

    /// `redis://` URL of the proxy.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Closes every connection and refuses new ones until [`restore`](Self::restore).
    pub fn cut(&self) {
        self.shared.cut.store(true, Ordering::Release);
        for stream in self.shared.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Lets new connections through again.
    pub fn restore(&self) {
        self.shared.cut.store(false, Ordering::Release);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::Release);
        self.cut();
        let _ = TcpStream::connect(self.addr); // wakes the accept loop so that it ends
    }
}

/// Copies `from` to `to` on a thread of its own until either side closes.
fn pipe(from: &TcpStream, to: &TcpStream) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else { return };
    let _ = std::thread::Builder::new().name("test-proxy-pipe".into()).spawn(move || {
        let mut buffer = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buffer[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = (from.shutdown(Shutdown::Both), to.shutdown(Shutdown::Both));
    });
}
