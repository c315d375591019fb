//! A plain TCP proxy in front of the real API server that can cut every connection going
//! through it at once (as a network failure does) and refuse new ones for a while. TLS passes
//! through untouched: clients talk to the real server, only the path is cut.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// Copies `from` to `to`; while `blackhole` is set, what arrives is held back (and reading
/// stops), as packets on a lost route go unanswered until it comes back.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    blackhole: Arc<AtomicBool>,
) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while blackhole.load(Ordering::SeqCst) {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}

pub struct TcpCutProxy {
    pub addr: SocketAddr,
    connections: Arc<Mutex<JoinSet<()>>>,
    refusing: Arc<AtomicBool>,
    blackhole: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TcpCutProxy {
    fn drop(&mut self) {
        self.task.abort();
        if let Ok(mut connections) = self.connections.lock() {
            connections.abort_all();
        }
    }
}

impl TcpCutProxy {
    /// Listens on 127.0.0.1 and forwards every connection to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        Self::start_at("127.0.0.1:0".parse().expect("address"), upstream).await
    }

    /// [`Self::start`] on `listen` (e.g. a port clients were refused on until now).
    pub async fn start_at(listen: SocketAddr, upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind(listen).await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let connections = Arc::new(Mutex::new(JoinSet::new()));
        let refusing = Arc::new(AtomicBool::new(false));
        let blackhole = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let refused = Arc::new(AtomicUsize::new(0));
        let (task_connections, task_refusing, task_accepted, task_refused, task_blackhole) =
            (connections.clone(), refusing.clone(), accepted.clone(), refused.clone(), blackhole.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if task_refusing.load(Ordering::SeqCst) {
                    task_refused.fetch_add(1, Ordering::SeqCst);
                    drop(client);
                    continue;
                }
                task_accepted.fetch_add(1, Ordering::SeqCst);
                let Ok(mut connections) = task_connections.lock() else { return };
                let blackhole = task_blackhole.clone();
                connections.spawn(async move {
                    // A connection opened into the blackhole waits there, unanswered.
                    while blackhole.load(Ordering::SeqCst) {
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        let (client_read, client_write) = client.into_split();
                        let (server_read, server_write) = server.into_split();
                        tokio::select! {
                            _ = pump(client_read, server_write, blackhole.clone()) => {}
                            _ = pump(server_read, client_write, blackhole) => {}
                        }
                    }
                });
            }
        });
        Self { addr, connections, refusing, blackhole, accepted, refused, task }
    }

    /// While true, the path is a blackhole: connections stay open, nothing gets through in
    /// either direction (bytes are held back), new connections are accepted and left unanswered —
    /// what a lost route looks like, unlike a cut (RST) or a refusal.
    pub fn set_blackhole(&self, on: bool) {
        self.blackhole.store(on, Ordering::SeqCst);
    }

    /// Closes every connection now open through the proxy.
    pub fn cut_all(&self) {
        if let Ok(mut connections) = self.connections.lock() {
            connections.abort_all();
        }
    }

    /// While true, new connections are accepted and closed at once (the API server is gone).
    pub fn set_refusing(&self, refusing: bool) {
        self.refusing.store(refusing, Ordering::SeqCst);
    }

    /// Connections closed unanswered while refusing.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }

    /// Connections forwarded so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}
