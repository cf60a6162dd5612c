//! Network partitions on loopback, without root: peer connections routed through TCP
//! proxies that the test can cut and restore.
//!
//! [`TcpProxy`] forwards every connection it accepts on 127.0.0.1 to one target address.
//! [`TcpProxy::cut`] closes every open connection and refuses new ones (they are accepted
//! and closed at once), as a link that went down would; [`TcpProxy::restore`] lets
//! connections through again. CometBFT sees its peer connections fail and keeps redialling
//! its persistent peers, so it reconnects by itself after the cut is restored.
//!
//! [`Partition::route`] wires one node of a [`Network`] so that **all** of its peer
//! connections pass through one proxy: the node dials nobody, every other node dials it
//! through the proxy, and peer exchange is off everywhere so no node learns (and dials) its
//! real address.

use crate::net::Network;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

struct Shared {
    cut: AtomicBool,
    stop: AtomicBool,
    /// Both ends of every forwarded connection, to shut them down on a cut.
    open: Mutex<Vec<TcpStream>>,
}

impl Shared {
    fn close_all(&self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        for stream in open.drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// A TCP forwarder that can be cut (see the module documentation).
pub struct TcpProxy {
    addr: SocketAddr,
    target: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

/// Copies `from` to `to` until either side closes, then closes both.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

impl TcpProxy {
    /// Listens on a free 127.0.0.1 port and forwards to `target`.
    pub fn start(target: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .unwrap_or_else(|e| panic!("proxy: cannot listen: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("proxy: no local address: {e}"));
        let shared = Arc::new(Shared {
            cut: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            open: Mutex::new(Vec::new()),
        });
        let state = shared.clone();
        let accept = std::thread::Builder::new()
            .name(format!("proxy-{}", addr.port()))
            .spawn(move || {
                for incoming in listener.incoming() {
                    if state.stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(client) = incoming else { continue };
                    if state.cut.load(Ordering::Relaxed) {
                        let _ = client.shutdown(Shutdown::Both);
                        continue;
                    }
                    let Ok(server) = TcpStream::connect_timeout(&target, Duration::from_secs(1))
                    else {
                        let _ = client.shutdown(Shutdown::Both);
                        continue;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let clones = (
                        client.try_clone(),
                        server.try_clone(),
                        client.try_clone(),
                        server.try_clone(),
                    );
                    let (Ok(c1), Ok(s1), Ok(c2), Ok(s2)) = clones else {
                        continue;
                    };
                    {
                        let mut open = state.open.lock().unwrap_or_else(|e| e.into_inner());
                        open.push(c2);
                        open.push(s2);
                    }
                    std::thread::spawn(move || pump(client, server));
                    std::thread::spawn(move || pump(s1, c1));
                }
            })
            .unwrap_or_else(|e| panic!("proxy: cannot start a thread: {e}"));
        TcpProxy {
            addr,
            target,
            shared,
            accept: Some(accept),
        }
    }

    /// The address to connect to instead of the target.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address connections are forwarded to.
    pub fn target(&self) -> SocketAddr {
        self.target
    }

    /// Closes every forwarded connection and refuses new ones until [`TcpProxy::restore`].
    pub fn cut(&self) {
        self.shared.cut.store(true, Ordering::Relaxed);
        self.shared.close_all();
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        self.shared.cut.store(false, Ordering::Relaxed);
    }

    /// True while cut.
    pub fn is_cut(&self) -> bool {
        self.shared.cut.load(Ordering::Relaxed)
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.shared.close_all();
        // Wake the accept loop so it sees the stop flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        if let Some(handle) = self.accept.take() {
            let _ = handle.join();
        }
    }
}

/// One node whose peer connections all pass through a proxy (see the module
/// documentation).
pub struct Partition {
    node: usize,
    proxy: TcpProxy,
}

impl Partition {
    /// Routes node `node`'s peer connections through a proxy. Call before the network
    /// starts (it rewrites the nodes' `config.toml`).
    pub fn route(net: &Network, node: usize) -> Partition {
        let target = SocketAddr::from(([127, 0, 0, 1], net.node(node).ports.p2p));
        let proxy = TcpProxy::start(target);
        let isolated_id = net.node(node).node_id.clone();
        for i in 0..net.len() {
            let peers: Vec<String> = if i == node {
                Vec::new()
            } else {
                (0..net.len())
                    .filter(|j| *j != i)
                    .map(|j| {
                        if j == node {
                            format!("{isolated_id}@{}", proxy.addr())
                        } else {
                            net.node(j).peer_address()
                        }
                    })
                    .collect()
            };
            net.configure(i, |cfg| {
                cfg.set(Some("p2p"), "persistent_peers", peers.join(","))
                    .and_then(|()| cfg.set(Some("p2p"), "pex", false))
                    .unwrap_or_else(|e| panic!("node{i}: {e}"));
            });
        }
        net.log(&format!(
            "node{node}: every peer connection goes through a proxy on {}",
            proxy.addr()
        ));
        Partition { node, proxy }
    }

    /// The node behind the proxy.
    pub fn node(&self) -> usize {
        self.node
    }

    /// Cuts the node off from its peers.
    pub fn cut(&self) {
        self.proxy.cut();
    }

    /// Restores the node's links.
    pub fn heal(&self) {
        self.proxy.restore();
    }
}
