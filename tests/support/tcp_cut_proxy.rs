//! A plain TCP proxy in front of the real API server that can cut every connection going
//! through it at once (as a network failure does) and refuse new ones for a while. TLS passes
//! through untouched: clients talk to the real server, only the path is cut.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

pub struct TcpCutProxy {
    pub addr: SocketAddr,
    connections: Arc<Mutex<JoinSet<()>>>,
    refusing: Arc<AtomicBool>,
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
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let connections = Arc::new(Mutex::new(JoinSet::new()));
        let refusing = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let refused = Arc::new(AtomicUsize::new(0));
        let (task_connections, task_refusing, task_accepted, task_refused) =
            (connections.clone(), refusing.clone(), accepted.clone(), refused.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if task_refusing.load(Ordering::SeqCst) {
                    task_refused.fetch_add(1, Ordering::SeqCst);
                    drop(client);
                    continue;
                }
                task_accepted.fetch_add(1, Ordering::SeqCst);
                let Ok(mut connections) = task_connections.lock() else { return };
                connections.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Self { addr, connections, refusing, accepted, refused, task }
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
