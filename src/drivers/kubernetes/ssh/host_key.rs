//! A node's SSH host key: a fresh Ed25519 key pair per node, as the OpenSSH private key file
//! sshd reads and the public key line Zuul puts into `known_hosts`.
//!
//! The private key is only ever written into the node's Secret; [`HostKey`]'s `Debug` hides it.

use super::wire::Writer;
use aws_lc_rs::encoding::AsBigEndian;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

pub const ALGORITHM: &str = "ssh-ed25519";

#[derive(Debug, thiserror::Error)]
#[error("cannot generate an SSH host key: {0}")]
pub struct HostKeyError(&'static str);

pub struct HostKey {
    /// The public key blob (`string "ssh-ed25519" || string key`).
    public_blob: Vec<u8>,
    /// The OpenSSH private key file.
    private_file: String,
}

impl std::fmt::Debug for HostKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostKey").field("public", &self.public_line()).field("private", &"<redacted>").finish()
    }
}

impl HostKey {
    pub fn generate() -> Result<Self, HostKeyError> {
        let pair = Ed25519KeyPair::generate().map_err(|_| HostKeyError("key generation failed"))?;
        let seed = pair.seed().and_then(|s| s.as_be_bytes()).map_err(|_| HostKeyError("no seed"))?;
        let public = pair.public_key().as_ref().to_vec();
        let mut check = [0u8; 4];
        SystemRandom::new().fill(&mut check).map_err(|_| HostKeyError("no randomness"))?;
        Ok(Self::from_parts(seed.as_ref(), &public, u32::from_be_bytes(check)))
    }

    fn from_parts(seed: &[u8], public: &[u8], check: u32) -> Self {
        let mut blob = Writer::default();
        blob.string(ALGORITHM.as_bytes()).string(public);
        let public_blob = blob.0;
        // openssh-key-v1 (OpenSSH PROTOCOL.key), unencrypted: cipher and KDF "none".
        let mut secret = Writer::default();
        let private: Vec<u8> = seed.iter().chain(public).copied().collect();
        secret.u32(check).u32(check).string(ALGORITHM.as_bytes()).string(public).string(&private).string(b"kubepool");
        let mut pad = 1u8;
        while secret.0.len() % 8 != 0 {
            secret.byte(pad);
            pad += 1;
        }
        let mut file = Writer::default();
        file.raw(b"openssh-key-v1\0").string(b"none").string(b"none").string(b"").u32(1).string(&public_blob);
        file.string(&secret.0);
        let encoded = STANDARD.encode(&file.0);
        let mut pem = String::from("-----BEGIN OPENSSH PRIVATE KEY-----\n");
        for chunk in encoded.as_bytes().chunks(70) {
            pem.push_str(&String::from_utf8_lossy(chunk));
            pem.push('\n');
        }
        pem.push_str("-----END OPENSSH PRIVATE KEY-----\n");
        Self { public_blob, private_file: pem }
    }

    /// `ssh-ed25519 AAAA...`: one entry of a node's `host_keys`.
    pub fn public_line(&self) -> String {
        format!("{ALGORITHM} {}", STANDARD.encode(&self.public_blob))
    }

    /// The blob a server sends as its host key (`K_S`).
    pub fn public_blob(&self) -> &[u8] {
        &self.public_blob
    }

    /// The private key file for sshd's `HostKey`.
    pub fn private_file(&self) -> &str {
        &self.private_file
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn debug_never_shows_the_private_key() {
        let key = HostKey::generate().expect("key");
        let shown = format!("{key:?}");
        assert!(shown.contains("<redacted>") && !shown.contains("PRIVATE"), "{shown}");
        assert!(key.public_line().starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"));
    }

    /// OpenSSH itself reads the private key file and derives the same public key.
    #[test]
    fn ssh_keygen_derives_the_public_line_from_the_private_file() {
        let key = HostKey::generate().expect("key");
        let dir = std::env::temp_dir().join(format!("kp-hostkey-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("key");
        std::fs::write(&path, key.private_file()).expect("write");
        let mut perms = std::fs::metadata(&path).expect("meta").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o600);
        std::fs::set_permissions(&path, perms).expect("chmod");
        let out = Command::new("ssh-keygen").arg("-y").arg("-f").arg(&path).output().expect("ssh-keygen");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(out.status.success(), "{out:?}");
        let derived = String::from_utf8_lossy(&out.stdout);
        assert_eq!(derived.split_whitespace().take(2).collect::<Vec<_>>().join(" "), key.public_line());
    }
}
