//! Proves that the server at an address is the node's sshd: a curve25519-sha256 key exchange
//! (RFC 8731) up to the server's reply, whose host key must be the node's and whose signature
//! over the exchange hash must verify with it. The connection is dropped before any
//! authentication; nothing secret is sent.

use super::host_key::{ALGORITHM, HostKey};
use super::wire::{Reader, Writer, read_packet, write_packet};
use aws_lc_rs::agreement::{self, EphemeralPrivateKey, UnparsedPublicKey, X25519};
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{ED25519, UnparsedPublicKey as SignaturePublicKey};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const CLIENT_VERSION: &str = "SSH-2.0-kubepool_probe";
const KEX: &str = "curve25519-sha256,curve25519-sha256@libssh.org";
const MSG_KEXINIT: u8 = 20;
const MSG_KEX_ECDH_INIT: u8 = 30;
const MSG_KEX_ECDH_REPLY: u8 = 31;

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Nothing answers yet, or not like an SSH server: worth trying again.
    #[error("{0}")]
    NotYet(String),
    /// An SSH server answers with another host key, or cannot prove it holds the node's.
    #[error("{0}")]
    WrongKey(String),
}

fn not_yet(what: &str) -> impl FnOnce(std::io::Error) -> ProbeError + '_ {
    move |e| ProbeError::NotYet(format!("{what}: {e}"))
}

/// Connects to `host:port` and checks its host key against `expected`, within `timeout`.
pub async fn check_host_key(host: &str, port: u16, expected: &HostKey, timeout: Duration) -> Result<(), ProbeError> {
    match tokio::time::timeout(timeout, exchange(host, port, expected)).await {
        Ok(result) => result,
        Err(_) => {
            Err(ProbeError::NotYet(format!("no SSH key exchange with {host}:{port} within {} ms", timeout.as_millis())))
        }
    }
}

async fn exchange(host: &str, port: u16, expected: &HostKey) -> Result<(), ProbeError> {
    let stream = TcpStream::connect((host, port)).await.map_err(not_yet("connect"))?;
    let mut stream = BufReader::new(stream);
    stream.get_mut().write_all(format!("{CLIENT_VERSION}\r\n").as_bytes()).await.map_err(not_yet("send version"))?;
    let server_version = read_version(&mut stream).await?;

    let rng = SystemRandom::new();
    let mut cookie = [0u8; 16];
    rng.fill(&mut cookie).map_err(|_| ProbeError::NotYet("no randomness".into()))?;
    let mut kexinit = Writer::default();
    kexinit.byte(MSG_KEXINIT).raw(&cookie).string(KEX.as_bytes()).string(ALGORITHM.as_bytes());
    for list in ["aes128-ctr", "aes128-ctr", "hmac-sha2-256", "hmac-sha2-256", "none", "none", "", ""] {
        kexinit.string(list.as_bytes());
    }
    kexinit.byte(0).u32(0);
    write_packet(stream.get_mut(), &kexinit.0).await.map_err(not_yet("send KEXINIT"))?;

    let server_kexinit = next_message(&mut stream, MSG_KEXINIT).await?;
    let mut lists = Reader(&server_kexinit[17..]);
    let (kex, keys) = (lists.string().unwrap_or_default(), lists.string().unwrap_or_default());
    if !names(kex).any(|n| KEX.split(',').any(|k| k == n)) || !names(keys).any(|n| n == ALGORITHM) {
        return Err(ProbeError::WrongKey(format!(
            "the SSH server offers no curve25519 key exchange with an {ALGORITHM} host key"
        )));
    }

    let private = EphemeralPrivateKey::generate(&X25519, &rng).map_err(|_| ProbeError::NotYet("no key".into()))?;
    let client_public = private.compute_public_key().map_err(|_| ProbeError::NotYet("no key".into()))?;
    let mut init = Writer::default();
    init.byte(MSG_KEX_ECDH_INIT).string(client_public.as_ref());
    write_packet(stream.get_mut(), &init.0).await.map_err(not_yet("send KEX_ECDH_INIT"))?;

    let reply = next_message(&mut stream, MSG_KEX_ECDH_REPLY).await?;
    let mut r = Reader(&reply[1..]);
    let malformed = || ProbeError::WrongKey("malformed KEX_ECDH_REPLY".into());
    let (host_key, server_public, signature) =
        (r.string().ok_or_else(malformed)?, r.string().ok_or_else(malformed)?, r.string().ok_or_else(malformed)?);
    if host_key != expected.public_blob() {
        return Err(ProbeError::WrongKey("the SSH server presents another host key than the node's".into()));
    }
    let shared = agreement::agree_ephemeral(
        private,
        UnparsedPublicKey::new(&X25519, server_public),
        ProbeError::WrongKey("the server's ephemeral key is invalid".into()),
        |k| Ok(k.to_vec()),
    )?;
    let mut hashed = Writer::default();
    hashed
        .string(CLIENT_VERSION.as_bytes())
        .string(server_version.as_bytes())
        .string(&kexinit.0)
        .string(&server_kexinit)
        .string(host_key)
        .string(client_public.as_ref())
        .string(server_public)
        .mpint(&shared);
    let exchange_hash = digest(&SHA256, &hashed.0);
    let mut sig = Reader(signature);
    let (algorithm, sig_bytes) = (sig.string().ok_or_else(malformed)?, sig.string().ok_or_else(malformed)?);
    let mut key = Reader(host_key);
    let (_, key_bytes) = (key.string().ok_or_else(malformed)?, key.string().ok_or_else(malformed)?);
    if algorithm != ALGORITHM.as_bytes()
        || SignaturePublicKey::new(&ED25519, key_bytes).verify(exchange_hash.as_ref(), sig_bytes).is_err()
    {
        return Err(ProbeError::WrongKey("the server's signature does not verify with the node's host key".into()));
    }
    Ok(())
}

fn names(list: &[u8]) -> impl Iterator<Item = &str> {
    std::str::from_utf8(list).unwrap_or("").split(',')
}

/// The server's identification line (lines before it are allowed by RFC 4253 §4.2).
async fn read_version(stream: &mut BufReader<TcpStream>) -> Result<String, ProbeError> {
    for _ in 0..20 {
        let mut line = String::new();
        let n = stream.read_line(&mut line).await.map_err(not_yet("read version"))?;
        if n == 0 {
            return Err(ProbeError::NotYet("the connection closed before an SSH version line".into()));
        }
        if line.starts_with("SSH-") {
            return Ok(line.trim_end_matches(['\r', '\n']).to_string());
        }
    }
    Err(ProbeError::NotYet("no SSH version line".into()))
}

/// The next packet of type `wanted`, skipping IGNORE/DEBUG messages.
async fn next_message(stream: &mut BufReader<TcpStream>, wanted: u8) -> Result<Vec<u8>, ProbeError> {
    loop {
        let payload = read_packet(stream).await.map_err(not_yet("read packet"))?;
        match payload.first() {
            Some(2 | 4) => continue,
            Some(t) if *t == wanted && (wanted != MSG_KEXINIT || payload.len() > 17) => return Ok(payload),
            Some(other) => {
                return Err(ProbeError::NotYet(format!("expected SSH message {wanted}, got message {other}")));
            }
            None => return Err(ProbeError::NotYet(format!("expected SSH message {wanted}, got an empty packet"))),
        }
    }
}
