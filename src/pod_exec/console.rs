//! A zuul_console-compatible server on the executor (reference §6.5): serves the console logs
//! `<dir>/console-<log id>.log` that kubepool's connection plugin copies live out of the pod,
//! so Zuul's `zuul_stream` gets live output without the zuul_console daemon (or its port
//! forward) in the pod.
//!
//! Protocol v1: newline-terminated commands of at most 1024 bytes sent within 10 s; `v:<ver>`
//! → `1\n`; `f:<id>` → delete the log; `s:<id>` (or a bare `<id>`) → the log from its start,
//! followed until the client leaves; a missing log → `[Zuul] Log not found\n` every 0.5 s.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const PROTOCOL_VERSION: &str = "1";
const MAX_REQUEST: usize = 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const NOT_FOUND: &[u8] = b"[Zuul] Log not found\n";
const POLL: Duration = Duration::from_millis(100);

/// The log file of `log_id` in `dir` (only the id's last path component counts, as in Zuul).
pub fn log_path(dir: &Path, log_id: &str) -> PathBuf {
    let id = log_id.rsplit('/').next().unwrap_or_default();
    dir.join(format!("console-{id}.log"))
}

/// Serves `dir` on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, dir: PathBuf) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let dir = dir.clone();
                tokio::spawn(async move {
                    if let Err(error) = handle(stream, &dir).await {
                        tracing::debug!(%error, "console client ended");
                    }
                });
            }
            Err(error) => {
                tracing::warn!(%error, "console server: accept failed");
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

async fn read_command(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut buffer = Vec::new();
    let deadline = tokio::time::Instant::now() + REQUEST_TIMEOUT;
    loop {
        if let Some(end) = buffer.iter().position(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(&buffer[..end]).trim().to_string();
            return Ok(line);
        }
        if buffer.len() >= MAX_REQUEST {
            return Err(std::io::Error::other("request too long"));
        }
        let mut chunk = [0u8; MAX_REQUEST];
        let n = tokio::time::timeout_at(deadline, stream.read(&mut chunk))
            .await
            .map_err(|_| std::io::Error::other("timeout while waiting for a command"))??;
        if n == 0 {
            return Err(std::io::Error::other("client closed the connection"));
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

async fn handle(mut stream: TcpStream, dir: &Path) -> std::io::Result<()> {
    let log_id = loop {
        let command = read_command(&mut stream).await?;
        if command.starts_with("v:") {
            stream.write_all(format!("{PROTOCOL_VERSION}\n").as_bytes()).await?;
        } else if let Some(id) = command.strip_prefix("f:") {
            let _ = tokio::fs::remove_file(log_path(dir, id)).await;
        } else if let Some(id) = command.strip_prefix("s:") {
            break id.to_string();
        } else {
            break command;
        }
    };
    let path = log_path(dir, &log_id);
    loop {
        let mut file = loop {
            match tokio::fs::File::open(&path).await {
                Ok(file) => break file,
                Err(_) => {
                    stream.write_all(NOT_FOUND).await?;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        };
        let inode = file.metadata().await?.ino();
        let mut sent: u64 = 0;
        let mut buffer = vec![0u8; 64 * 1024];
        'follow: loop {
            loop {
                let n = file.read(&mut buffer).await?;
                if n == 0 {
                    break;
                }
                stream.write_all(&buffer[..n]).await?;
                sent += n as u64;
            }
            // Wait for more, and notice a client that left meanwhile.
            let mut probe = [0u8; 1024];
            tokio::select! {
                read = stream.read(&mut probe) => {
                    if matches!(read, Ok(0) | Err(_)) {
                        return Ok(());
                    }
                }
                _ = tokio::time::sleep(POLL) => {}
            }
            // A replaced or truncated file is sent again from its start.
            match tokio::fs::metadata(&path).await {
                Ok(meta) if meta.ino() == inode && meta.len() >= sent => {}
                _ => break 'follow,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, BufReader};

    #[test]
    fn ids_cannot_leave_the_directory() {
        assert_eq!(log_path(Path::new("/d"), "../../etc/x"), PathBuf::from("/d/console-x.log"));
        assert_eq!(log_path(Path::new("/d"), "abc-1-node"), PathBuf::from("/d/console-abc-1-node.log"));
    }

    #[tokio::test]
    async fn version_stream_follow_and_finalise() {
        let dir = std::env::temp_dir().join(format!("kubepool-console-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("dir");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(serve(listener, dir.clone()));

        let mut client = BufReader::new(TcpStream::connect(addr).await.expect("connect"));
        client.get_mut().write_all(b"v:0\n").await.expect("send");
        let mut line = String::new();
        client.read_line(&mut line).await.expect("version");
        assert_eq!(line, "1\n");
        client.get_mut().write_all(b"s:id-1\n").await.expect("send");
        line.clear();
        client.read_line(&mut line).await.expect("not found");
        assert_eq!(line, "[Zuul] Log not found\n");

        let path = log_path(&dir, "id-1");
        std::fs::write(&path, "first\n").expect("write");
        loop {
            line.clear();
            client.read_line(&mut line).await.expect("line");
            if line != "[Zuul] Log not found\n" {
                break;
            }
        }
        assert_eq!(line, "first\n");
        // Appended later: followed.
        let mut file = std::fs::OpenOptions::new().append(true).open(&path).expect("open");
        std::io::Write::write_all(&mut file, b"second\n").expect("append");
        line.clear();
        client.read_line(&mut line).await.expect("line");
        assert_eq!(line, "second\n");
        drop(client);

        let mut other = TcpStream::connect(addr).await.expect("connect");
        other.write_all(b"f:id-1\n").await.expect("send");
        for _ in 0..100 {
            if !path.exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!path.exists(), "f: deleted the log");
        server.abort();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
